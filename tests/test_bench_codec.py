"""The codec benchmark's bar check: equal-PSNR ratios to WebP on ganvq's curve (its undominated models)."""


def _row(name, bpp, psnr, speed=2000.0, gap=0.5):
    return {"name": name, "bpp": bpp, "psnr_db": psnr, "encode_images_per_second": speed,
            "decode_images_per_second": speed, "payload_gap_percent": gap}


WEBP = [{"bpp": 1.0, "psnr_db": 25.0}, {"bpp": 2.0, "psnr_db": 30.0}]  # 1.6 bpp at 28 dB


def test_ratio_interpolates_webp_and_dominated_models_are_off_the_curve(benchmark_module):
    bench = benchmark_module("bench_codec")
    good, worse = _row("good", 0.7, 28.0), _row("worse", 1.0, 27.5)  # worse: larger files, lower PSNR
    bar = bench.check_bar([good, worse], WEBP)
    points = {p["name"]: p for p in bar["points"]}
    assert points["good"]["webp_bpp_at_equal_psnr"] == 1.6
    assert points["good"]["ratio_to_webp"] == round(0.7 / 1.6, 4) and points["good"]["dominated_by"] is None
    assert points["worse"]["dominated_by"] == "good"  # its 0.66x ratio does not count against the curve
    assert bar["half_of_webp"] and bar["point_27_6_db_at_0_8_bpp"] and bar["meets_bar"]


def test_an_undominated_point_above_half_fails_and_below_webp_range_compares_with_smallest_file(benchmark_module):
    bench = benchmark_module("bench_codec")
    low = _row("low", 0.4, 23.0)  # below WebP's PSNR range: compared with WebP's smallest file (1.0 bpp)
    high = _row("high", 1.2, 29.0)  # 1.2 / 1.8 = 0.67 of WebP at 29 dB, and no model beats it
    bar = bench.check_bar([low, high], WEBP)
    points = {p["name"]: p for p in bar["points"]}
    assert points["low"]["ratio_to_webp"] is None and points["low"]["ratio_to_smallest_webp"] == 0.4
    assert points["high"]["dominated_by"] is None and not bar["half_of_webp"]
    assert not bar["point_27_6_db_at_0_8_bpp"]
    slow = _row("slow", 0.7, 28.0, speed=999.0)
    bar = bench.check_bar([slow], WEBP)
    assert bar["half_of_webp"] and not bar["fast_models"] and not bar["meets_bar"]


def test_the_fast_models_alone_must_meet_the_size_bar(benchmark_module):
    bench = benchmark_module("bench_codec")
    small_slow = _row("small-slow", 0.5, 28.0, speed=100.0)
    fast_ok = _row("fast", 0.75, 28.0)  # 0.75 / 1.6 = 0.47 of WebP, 28 dB at <= 0.8 bpp
    bar = bench.check_bar([small_slow, fast_ok], WEBP)
    assert bar["fast_models"] == ["fast"] and not bar["all_models_fast"]
    assert bar["fast_curve"]["half_of_webp"] and bar["fast_curve"]["point_27_6_db_at_0_8_bpp"] and bar["meets_bar"]
    fast_big = _row("fast-big", 0.85, 28.0)  # 0.53 of WebP, and over 0.8 bpp
    bar = bench.check_bar([small_slow, fast_big], WEBP)
    assert bar["half_of_webp"] and bar["point_27_6_db_at_0_8_bpp"]  # thanks to the slow model
    assert not bar["fast_curve"]["half_of_webp"] and not bar["meets_bar"]


def test_a_vqgan_point_meets_issue_19s_bar_at_the_fast_codecs_rate_with_a_lower_fid(benchmark_module):
    bench = benchmark_module("bench_codec")

    def model(name, bpp, fid, vqgan, speed=2000.0, arch="local"):
        return {**_row(name, bpp, 27.0, speed), "recon_fid": fid, "vqvae": {"vqgan": vqgan}, "prior": {"arch": arch}}

    old = {**_row("old-fast", 0.6, 28.0), "recon_fid": None, "vqvae": {}}  # measured before FID: not a reference
    transformer = model("transformer", 0.6, 3.0, False, arch="transformer")  # not the fast codec's kind
    vqvae, vqgan = model("vqvae", 0.70, 4.0, False), model("vqgan", 0.72, 2.0, True)  # 2.9% more bpp, half the FID
    check = bench.check_bar([old, transformer, vqvae, vqgan], WEBP)["vqgan_at_fast_rate"]
    assert [(p["vqgan"], p["vqvae"]) for p in check["pairs"]] == [("vqgan", "vqvae")]
    assert check["pairs"][0]["fid_ratio"] == 0.5 and check["met"]
    costly = model("vqgan", 0.74, 2.0, True)  # 5.7% more bpp: not at the same rate
    assert not bench.check_bar([vqvae, costly], WEBP)["vqgan_at_fast_rate"]["met"]
    blurry = model("vqgan", 0.70, 4.5, True)
    assert not bench.check_bar([vqvae, blurry], WEBP)["vqgan_at_fast_rate"]["met"]
    slow_vqvae = model("vqvae", 0.70, 4.0, False, speed=800.0)  # speeds are reported; the bar is about the rate
    slow_vqgan = model("vqgan", 0.70, 2.0, True, speed=800.0)
    [pair] = bench.check_bar([slow_vqvae, slow_vqgan], WEBP)["vqgan_at_fast_rate"]["pairs"]
    assert pair["met"] and not pair["vqgan_fast"] and not pair["vqvae_fast"]
