/// An instant in UTC with millisecond precision, written `YYYY-MM-DDTHH:MM:SS.sssZ` (RFC 3339).
///
/// 21 CFR 11.10(e) asks for time-stamped audit trails; one fixed textual form keeps them sortable and
/// byte-identical across languages.
public struct UTCTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let millisecondsSinceEpoch: Int64

    /// Creates a timestamp from milliseconds since the Unix epoch.
    public init(millisecondsSinceEpoch: Int64) { self.millisecondsSinceEpoch = millisecondsSinceEpoch }

    /// Parses the fixed form `YYYY-MM-DDTHH:MM:SS.sssZ`, or a bare `YYYY-MM-DDTHH:MM:SSZ`.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 24 || u.count == 20, u[10] == UInt8(ascii: "T"), u.last == UInt8(ascii: "Z"),
            let date = CivilDate(String(decoding: u[0..<10], as: UTF8.self))
        else { return nil }
        guard u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), let h = decimal(u, 11..<13), let m = decimal(u, 14..<16),
            let s = decimal(u, 17..<19), h < 24, m < 60, s < 60
        else { return nil }
        var ms = 0
        if u.count == 24 {
            guard u[19] == UInt8(ascii: "."), let f = decimal(u, 20..<23) else { return nil }
            ms = f
        }
        let seconds = Int64(date.daysSinceEpoch) * 86_400 + Int64(h * 3600 + m * 60 + s)
        millisecondsSinceEpoch = seconds * 1000 + Int64(ms)
    }

    /// The calendar date in UTC.
    public var date: CivilDate {
        CivilDate(daysSinceEpoch: Int(floorDiv(millisecondsSinceEpoch, 86_400_000)))
    }

    private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

    public var description: String {
        let day = date
        let dayMs = Int(millisecondsSinceEpoch - floorDiv(millisecondsSinceEpoch, 86_400_000) * 86_400_000)
        // Written digit by digit into one buffer: every event's body and row carry a timestamp, and the writer
        // formats them in its hot path.
        guard (0...9999).contains(day.year) else {
            return "\(day)T\(zeroPadded(dayMs / 3_600_000, width: 2)):\(zeroPadded(dayMs / 60_000 % 60, width: 2)):"
                + "\(zeroPadded(dayMs / 1000 % 60, width: 2)).\(zeroPadded(dayMs % 1000, width: 3))Z"
        }
        return String(unsafeUninitializedCapacity: 24) { b in
            day.writeDigits(into: b)
            b[10] = UInt8(ascii: "T")
            writeDecimal(dayMs / 3_600_000, width: 2, into: b, at: 11)
            b[13] = UInt8(ascii: ":")
            writeDecimal(dayMs / 60_000 % 60, width: 2, into: b, at: 14)
            b[16] = UInt8(ascii: ":")
            writeDecimal(dayMs / 1000 % 60, width: 2, into: b, at: 17)
            b[19] = UInt8(ascii: ".")
            writeDecimal(dayMs % 1000, width: 3, into: b, at: 20)
            b[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    public static func < (a: UTCTimestamp, b: UTCTimestamp) -> Bool { a.millisecondsSinceEpoch < b.millisecondsSinceEpoch }
}

/// Where "now" comes from. The core never reads a clock; the edges pass one in.
public protocol TimeSource: Sendable {
    /// The current instant in UTC.
    func now() -> UTCTimestamp
}

/// A clock that always answers the same instant: for tests, replays and demos.
public struct FixedClock: TimeSource {
    public let instant: UTCTimestamp
    public init(_ instant: UTCTimestamp) { self.instant = instant }
    public func now() -> UTCTimestamp { instant }
}
