/// A calendar date (proleptic Gregorian, no time zone), written `YYYY-MM-DD` (ISO 8601).
public struct CivilDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public private(set) var year: Int
    public private(set) var month: Int
    public private(set) var day: Int

    /// Parses `YYYY-MM-DD`; `nil` when the text is not a real date.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { return nil }
        guard let y = decimal(u, 0..<4), let m = decimal(u, 5..<7), let d = decimal(u, 8..<10), y >= 1900, (1...12).contains(m),
            d >= 1, d <= CivilDate.daysIn(month: m, year: y)
        else { return nil }
        (year, month, day) = (y, m, d)
    }

    /// Creates a date from days since 1970-01-01.
    public init(daysSinceEpoch z0: Int) {
        // Howard Hinnant's civil_from_days.
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var description: String {
        guard (0...9999).contains(year) else {
            return "\(zeroPadded(year, width: 4))-\(zeroPadded(month, width: 2))-\(zeroPadded(day, width: 2))"
        }
        return String(unsafeUninitializedCapacity: 10) { b in
            writeDigits(into: b)
            return 10
        }
    }

    /// Writes `YYYY-MM-DD` into the first ten bytes of `b`; the year must be in 0...9999.
    func writeDigits(into b: UnsafeMutableBufferPointer<UInt8>) {
        writeDecimal(year, width: 4, into: b, at: 0)
        b[4] = UInt8(ascii: "-")
        writeDecimal(month, width: 2, into: b, at: 5)
        b[7] = UInt8(ascii: "-")
        writeDecimal(day, width: 2, into: b, at: 8)
    }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    /// The same day `months` calendar months earlier, or the last day of that month when it is shorter
    /// (31 March less one month is 28 or 29 February).
    public func months(before months: Int) -> CivilDate {
        let total = year * 12 + (month - 1) - months
        var d = self
        (d.year, d.month) = (total / 12, total % 12 + 1)
        d.day = min(day, Self.daysIn(month: d.month, year: d.year))
        return d
    }
}

/// `value` in decimal with leading zeros up to `width` digits; wider values keep all their digits. For the forms
/// outside the fixed-width fast paths (years beyond 0...9999).
func zeroPadded(_ value: Int, width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Writes `value` (not negative, below 10^width) as exactly `width` decimal digits at `b[at...]`.
func writeDecimal(_ value: Int, width: Int, into b: UnsafeMutableBufferPointer<UInt8>, at: Int) {
    var v = value
    for i in stride(from: at + width - 1, through: at, by: -1) {
        b[i] = UInt8(ascii: "0") + UInt8(v % 10)
        v /= 10
    }
}

/// The decimal number written in `bytes[range]`, or nil if any byte is not a digit.
func decimal(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
    var v = 0
    for i in range {
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { return nil }
        v = v * 10 + Int(bytes[i] - UInt8(ascii: "0"))
    }
    return v

}
