import json

import pytest

from ganvq.cli import main
from ganvq.commands.evaluate import privacy_facts, utility
from ganvq.runs import open_run

pytest.importorskip("opacus")

TINY = ["--preset", "dp-fmnist", "--steps", "3", "--batch-size", "32", "--limit", "256", "--n-d", "2",
        "--threads", "1", "--sample-every", "0"]


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    """A private GAN trained through the CLI at ε = 5, at width 8 (a config file), each image and fake clipped on
    its own, in a few seconds."""
    tmp = tmp_path_factory.mktemp("private")
    small = tmp / "small.json"
    small.write_text(json.dumps({"model": {"g_width": 8, "d_width": 8, "z_dim": 16}}))
    run = tmp / "run"
    assert main(["--quiet", "train", "gan", "--out", str(run), "--config", str(small), *TINY,
                 "--dp-epsilon", "5", "--dp-delta", "1e-5", "--dp-max-grad-norm", "0.5",
                 "--d-projection", "pooled", "--dp-clipping", "separate"]) == 0
    return run


def test_a_private_run_stores_its_guarantee_and_its_utility_is_measured(private_run):
    config = json.loads((private_run / "config.json").read_text())
    assert config["model"]["d_projection"] == "pooled"
    config = config["privacy"]
    assert config["epsilon"] == 5.0 and config["max_grad_norm"] == 0.5 and config["noise_multiplier"] > 0
    assert config["clipping"] == "separate"
    run = open_run(private_run, "gan")
    facts = privacy_facts(run)  # what `ganvq eval gan` adds to eval-gan.json and prints
    assert 4.99 <= facts["epsilon"] <= 5.0 and facts["d_steps"] == 6 and facts["sample_rate"] == 32 / 256
    assert facts["clipping"] == "separate"
    result = utility(run, 200, test_limit=500)
    assert 0 <= result["accuracy"] <= 1 and result["train_images"] == 200 and result["test_images"] == 500


def test_audit_membership_writes_both_attacks_and_a_roc_picture(private_run, tmp_path, capsys):
    out = tmp_path / "audit.json"
    assert main(["--quiet", "audit", "membership", "--ckpt", str(private_run), "--n", "100", "--samples", "200",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["attacks"]) == {"logan", "gan_leaks", "gan_leaks_calibrated"} and result["per_side"] == 100
    assert result["private"] and result["reference"].startswith("9,900 of the non-member pool")
    assert all(0 <= a["auc"] <= 1 and a["members"] == 100 for a in result["attacks"].values())
    assert out.with_suffix(".roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "logan: AUC" in printed and "calibrated's reference: 9,900 of the non-member pool" in printed
    assert "95% intervals: AUC" in printed and "100 of each" in printed
    # 100 non-members: the 1% FPR threshold rests on one score, the 0.1% one on none, and the output says so
    assert "note: 100 non-members: the 1% FPR threshold rests on their single highest score and" in printed
    assert result["notes"] and "--non-member-n" in result["notes"][0]
    # more non-members than members: the rest of the pool is the reference
    assert main(["--quiet", "audit", "membership", "--ckpt", str(private_run), "--n", "100", "--non-member-n", "1000",
                 "--samples", "200", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["member_count"], result["non_member_count"], result["per_side"]) == (100, 1000, None)
    assert result["reference"].startswith("9,000 of the non-member pool")
    assert all(a["non_members"] == 1000 and a["auc_95"][0] <= a["auc"] <= a["auc_95"][1]
               for a in result["attacks"].values())
    printed = capsys.readouterr().out
    assert "100 members and 1,000 non-members" in printed and "note:" not in printed and result["notes"] == []
    # non-members no more than the members: none left for the calibrated attack's reference, which is skipped
    assert main(["--quiet", "audit", "membership", "--ckpt", str(private_run), "--members", "test",
                 "--non-members", "train", "--samples", "50", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["attacks"]) == {"logan", "gan_leaks"} and result["reference"].startswith("none")


@pytest.mark.parametrize("argv, message", [
    (["audit", "membership", "--n", "0"], "at least 1"),
    (["audit", "membership", "--members", "no-such-data"], "no-such-data"),
    (["train", "gan", "--preset", "fmnist-best", "--dp-epsilon", "5", "--steps", "3"], "dp-fmnist"),
    (["train", "gan", "--preset", "dp-fmnist", "--dp-epsilon", "-1", "--steps", "3"], "--dp-epsilon"),
])
def test_bad_privacy_inputs_give_one_line_errors(private_run, tmp_path, capsys, argv, message):
    if argv[0] == "audit":
        argv = [*argv, "--ckpt", str(private_run)]
    else:
        argv = [*argv, "--out", str(tmp_path / "bad")]
    try:
        code = main(argv)
    except SystemExit as e:  # a bad value argparse itself refuses
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganvq") and "error:" in err and len(err.splitlines()) == 1 and message in err, err


def test_the_report_shows_the_guarantee_and_the_membership_audit(private_run, tmp_path):
    assert main(["--quiet", "audit", "membership", "--ckpt", str(private_run), "--n", "50", "--samples", "100"]) == 0
    page = tmp_path / "page.html"
    assert main(["--quiet", "report", str(private_run), "--out", str(page)]) == 0
    text = page.read_text()
    assert "-DP by DP-SGD on D (rdp accountant)" in text and "Membership inference" in text
    assert "50 of each" in text and "95% intervals: AUC" in text
    assert text.count("data:image/png") >= 2  # the ROC picture among the page's pictures


def test_roc_picture_has_a_log_log_panel_where_a_few_sure_members_show():
    from ganvq.report.roc import MARGIN, SIZE, roc_picture

    # 10% of members caught at 0.1% FPR, none more up to 1%: on linear axes a sliver, on log axes a plateau at 10%
    curve = ([0.0, 0.001, 0.01, 1.0], [0.0, 0.1, 0.1, 1.0], 0.55)
    im = roc_picture({"attack": curve}, "t")
    assert im.size == (2 * (SIZE + 2 * MARGIN), SIZE + 2 * MARGIN)
    left = SIZE + 2 * MARGIN  # the log-log panel: TPR 10% is a third of the way down from the top (1e-3 .. 1)
    y = round(MARGIN + SIZE / 3)
    x = left + MARGIN + SIZE // 6  # FPR ~0.3%, on the plateau
    assert (31, 119, 180) in {im.getpixel((x, y + dy)) for dy in (-1, 0, 1)}
    assert (31, 119, 180) not in {im.getpixel((x, y + dy)) for dy in range(10, 60)}  # nothing below it there


def test_the_threshold_note_asks_for_more_non_members_only_where_there_are_more():
    from ganvq.commands.membership import threshold_note

    assert threshold_note(1000) is None
    assert "more non-members (--non-member-n 5000) pin them down" in threshold_note(100)
    scarce = threshold_note(6, all_there_are=True)
    assert scarce.startswith("6 non-members:") and "those are all the non-member images there are" in scarce
    assert "--non-member-n" not in scarce and threshold_note(1).startswith("1 non-member:")
    assert "(--non-member-n 16, all there are)" in threshold_note(5, available=16)  # not 5,000 of 16


def test_an_audit_of_a_handful_of_images_says_its_intervals_mean_little():
    from ganvq.commands.membership import size_note

    assert size_note(50, 50) is None and size_note(100, 1000) is None
    tiny = size_note(5, 5)
    assert tiny.startswith("only 5 members and 5 non-members") and "zero width is not certainty" in tiny
    assert size_note(1, 60).startswith("only 1 member and 60 non-members")
