/// IBM System/370 hexadecimal floating point, double precision: the number format of SAS version 5 transport
/// files (SAS Technical Support document TS-140, "The record layout of a SAS transport file").
///
/// One sign bit, a 7-bit exponent of 16 biased by 64, and a 56-bit fraction `F` with `1/16 ≤ F < 1`:
/// the value is `±F × 16^(exponent − 64)`. `1.0` is `0x4110000000000000`, `-118.625` is `0xC276A00000000000`, and
/// zero is all zero bits.
public enum IBMFloat {
    /// The 8 big-endian bytes of `x`. The fraction is IEEE 754's 53 bits shifted right by up to 3 places, so
    /// numbers of up to 53 significant bits whose shift drops no set bit (every integer up to 2^50) are exact; a
    /// value too large for the format is written as the largest one of its sign, one too small as zero. NaN (which
    /// SAS would read as a missing value) is written as SAS's missing value `.`: `0x2E` followed by zeros.
    public static func bytes(_ x: Double) -> [UInt8] {
        let bits = encode(x)
        return (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64($0))) }
    }

    /// `x` as the 64-bit pattern of its IBM double.
    public static func encode(_ x: Double) -> UInt64 {
        if x.isNaN { return 0x2E00_0000_0000_0000 }
        let sign: UInt64 = x.sign == .minus ? 1 << 63 : 0
        let magnitude = x.magnitude
        if magnitude == 0 { return 0 }
        if magnitude.isInfinite { return sign | 0x7FFF_FFFF_FFFF_FFFF }
        let ieee = magnitude.bitPattern
        let biased = Int((ieee >> 52) & 0x7FF)
        // Subnormal doubles lie far below the smallest IBM double (16^-65).
        if biased == 0 { return 0 }
        // magnitude = fraction53 / 2^53 × 2^p, with fraction53 / 2^53 in [1/2, 1).
        let fraction53 = (ieee & 0x000F_FFFF_FFFF_FFFF) | (1 << 52)
        let p = biased - 1022
        // Shift right by s (0…3) so that p + s is a multiple of 4: the fraction stays in [1/16, 1).
        let s = ((4 - p % 4) % 4 + 4) % 4
        let exponent = (p + s) / 4 + 64
        if exponent > 127 { return sign | 0x7FFF_FFFF_FFFF_FFFF }
        if exponent < 0 { return 0 }
        // 53 bits placed in a 56-bit fraction: shifted left by 3, then right by s.
        let fraction56 = (fraction53 << 3) >> UInt64(s)
        return sign | UInt64(exponent) << 56 | fraction56
    }
}
