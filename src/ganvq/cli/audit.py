"""`ganvq audit membership`: membership-inference attacks against a trained GAN."""

from __future__ import annotations


def _membership(args) -> None:
    from ganvq.commands.membership import audit_membership, counts, intervals

    r = audit_membership(args.ckpt, members=args.members, non_members=args.non_members, n=args.n,
                         samples=args.samples, seed=args.seed, out=args.out, quiet=args.quiet,
                         non_member_n=args.non_member_n)
    print(f"members: {r['members']}; non-members: {r['non_members']}; {counts(r)} "
          "(chance: AUC 0.5, TPR 1% at 1% FPR)")
    for name, a in r["attacks"].items():
        print(f"{name}: AUC {a['auc']:.3f}, TPR at 1% FPR {100 * a['tpr_at_1pct_fpr']:.1f}%, "
              f"at 0.1% FPR {100 * a['tpr_at_0.1pct_fpr']:.1f}%{intervals(a)}")
    print(f"gan_leaks_calibrated's reference: {r['reference']}")
    for note in r["notes"]:
        print(f"note: {note}")
    print(f"wrote {r['written']} and {r['roc_png']}")


def add_audit_commands(sub) -> None:
    """`ganvq audit membership --ckpt RUN [--members M] [--non-members N]`."""
    audit = sub.add_parser("audit", help="privacy audits of a trained model").add_subparsers(
        dest="audit", required=True, metavar="AUDIT")
    p = audit.add_parser("membership", help="membership inference against a GAN: LOGAN (its discriminator) and "
                                            "GAN-Leaks (nearest sample); ROC AUC, TPR at 1%% FPR, ROC picture",
                         description="Can an attacker tell the run's training images from images it never saw? "
                                     "LOGAN (Hayes et al. 2019) scores each image by the discriminator's logit; "
                                     "GAN-Leaks (Chen et al. 2020) by its distance to the nearest of --samples "
                                     "generated images, and calibrated by its distance to the nearest unseen real "
                                     "image (the non-members not drawn). Works for any GAN run, private or not.")
    p.add_argument("--ckpt", required=True, help="GAN checkpoint file or run folder")
    p.add_argument("--members", default="train",
                   help="images that were trained on: train (default: the run's own training images) or a "
                        "dataset name or path (all of it)")
    p.add_argument("--non-members", default="test",
                   help="images that were not: test (default: the run's held-out images) or a dataset name or path")
    p.add_argument("-n", "--n", type=int, default=1000, help="images drawn from each side (default 1000; fewer when a "
                                                       "side has fewer)")
    p.add_argument("--non-member-n", type=int, metavar="N",
                   help="draw N non-members instead of as many as the members: more of them pin the 1%% FPR "
                        "threshold down (it rests on their highest 1%%); the rest are the calibrated attack's "
                        "reference")
    p.add_argument("--samples", type=int, default=10_000, help="generated images GAN-Leaks searches (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn candidates and samples")
    p.add_argument("-o", "--out", help="JSON file to write (default: audit-membership.json in the run folder; the "
                                       "ROC picture beside it, .roc.png)")
    p.set_defaults(func=_membership)
