#!/usr/bin/env python3
"""A synthetic CT volume with one ellipsoid "lesion", and the lesion's mask, written as NIfTI through SimpleITK.

No patient data: every voxel comes from a seeded random generator. The same arguments give the same voxels, so
the same features; the mask depends only on the geometry (size, spacing, radii, centre).

    python3 tools/radiomics/phantom.py --seed 7 --lesion-hu 90 --radius 12 --out-image ct.nii.gz --out-mask mask.nii.gz

The volume is int16 Hounsfield units: soft tissue at --tissue-hu with Gaussian noise of SD --tissue-sd, and the
lesion at --lesion-hu with noise of SD --lesion-sd plus a smooth texture (a sum of seeded cosine waves of amplitude
--texture-hu), so that lesions differ in first-order and texture features alike.
"""

import argparse
import sys

import numpy as np
import SimpleITK as sitk


def build(seed=1, size=(64, 64, 32), spacing=(0.8, 0.8, 2.5), radii=(12.0, 10.0, 9.0), centre_offset=(0.0, 0.0, 0.0),
          tissue_hu=40.0, tissue_sd=10.0, lesion_hu=80.0, lesion_sd=15.0, texture_hu=10.0):
    """Returns (image, mask) as SimpleITK images: int16 HU and uint8 (1 inside the lesion, 0 elsewhere).
    `size` is (x, y, z) voxels, `spacing` and `radii` (x, y, z) millimetres, `centre_offset` millimetres from the
    volume's centre."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = size
    # numpy arrays are indexed [z, y, x], as SimpleITK's GetImageFromArray expects.
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    cx = (nx - 1) / 2 * spacing[0] + centre_offset[0]
    cy = (ny - 1) / 2 * spacing[1] + centre_offset[1]
    cz = (nz - 1) / 2 * spacing[2] + centre_offset[2]
    dx, dy, dz = x * spacing[0] - cx, y * spacing[1] - cy, z * spacing[2] - cz
    inside = (dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 + (dz / radii[2]) ** 2 <= 1.0
    if not inside.any():
        raise ValueError("the lesion holds no voxel: radii too small for the spacing")
    if inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any() or inside[:, :, 0].any() or inside[:, :, -1].any():
        raise ValueError("the lesion touches the volume's border: smaller radii or offset, or a larger size")

    volume = tissue_hu + tissue_sd * rng.standard_normal((nz, ny, nx))
    texture = np.zeros((nz, ny, nx))
    for _ in range(4):  # seeded waves with periods of 4-12 mm: a texture the GLCM sees
        k = rng.normal(size=3)
        k *= 2 * np.pi / rng.uniform(4.0, 12.0) / np.linalg.norm(k)
        texture += np.cos(k[0] * dx + k[1] * dy + k[2] * dz + rng.uniform(0, 2 * np.pi))
    lesion = lesion_hu + lesion_sd * rng.standard_normal((nz, ny, nx)) + texture_hu * texture / 2
    volume = np.where(inside, lesion, volume)
    hu = np.clip(np.rint(volume), -1024, 3071).astype(np.int16)

    image = sitk.GetImageFromArray(hu)
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    for im in (image, mask):
        im.SetSpacing(tuple(float(s) for s in spacing))
        im.SetOrigin((0.0, 0.0, 0.0))
        im.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    return image, mask


def write(image, path):
    # No compression-time stamp and no writer-dependent metadata: the same voxels give the same file bytes.
    sitk.WriteImage(image, path, useCompression=path.endswith(".gz"))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a synthetic CT volume with an ellipsoid lesion and its mask (NIfTI).")
    ap.add_argument("--seed", type=int, default=1, help="seed of the noise and texture (default 1)")
    ap.add_argument("--radius", type=float, nargs="+", default=[12.0, 10.0, 9.0], metavar="MM",
                    help="the lesion's radius in mm: one value (a sphere) or three (x y z); default 12 10 9")
    ap.add_argument("--lesion-hu", type=float, default=80.0, help="the lesion's mean HU (default 80)")
    ap.add_argument("--lesion-sd", type=float, default=15.0, help="SD of the lesion's voxel noise, HU (default 15)")
    ap.add_argument("--texture-hu", type=float, default=10.0, help="amplitude of the lesion's smooth texture, HU (default 10)")
    ap.add_argument("--tissue-hu", type=float, default=40.0, help="the surrounding soft tissue's mean HU (default 40)")
    ap.add_argument("--tissue-sd", type=float, default=10.0, help="SD of the soft tissue's noise, HU (default 10)")
    ap.add_argument("--size", type=int, nargs=3, default=[64, 64, 32], metavar=("X", "Y", "Z"), help="voxels (default 64 64 32)")
    ap.add_argument("--spacing", type=float, nargs=3, default=[0.8, 0.8, 2.5], metavar=("X", "Y", "Z"),
                    help="voxel spacing in mm (default 0.8 0.8 2.5)")
    ap.add_argument("--offset", type=float, nargs=3, default=[0.0, 0.0, 0.0], metavar=("X", "Y", "Z"),
                    help="the lesion centre's offset from the volume centre, mm (default 0 0 0)")
    ap.add_argument("--out-image", required=True, help="the CT volume, .nii.gz")
    ap.add_argument("--out-mask", required=True, help="the lesion mask, .nii.gz")
    args = ap.parse_args(argv)
    if len(args.radius) not in (1, 3) or min(args.radius) <= 0:
        ap.error("--radius takes one or three positive values")
    radii = tuple(args.radius * 3 if len(args.radius) == 1 else args.radius)
    try:
        image, mask = build(seed=args.seed, size=tuple(args.size), spacing=tuple(args.spacing), radii=radii,
                            centre_offset=tuple(args.offset), tissue_hu=args.tissue_hu, tissue_sd=args.tissue_sd,
                            lesion_hu=args.lesion_hu, lesion_sd=args.lesion_sd, texture_hu=args.texture_hu)
    except ValueError as err:
        print(f"phantom: {err}", file=sys.stderr)
        return 2
    write(image, args.out_image)
    write(mask, args.out_mask)
    voxels = int(sitk.GetArrayViewFromImage(mask).sum())
    print(f"phantom: {args.out_image} ({'x'.join(map(str, args.size))} voxels), {args.out_mask} ({voxels} lesion voxels)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
