import Testing
@testable import TrialGateCore

@Suite("UTC timestamps and calendar dates")
struct TimeTests {
    @Test("timestamps round-trip in the fixed RFC 3339 form", arguments: ["1970-01-01T00:00:00.000Z", "2026-02-28T23:59:59.999Z", "2024-02-29T12:00:00.001Z", "1969-12-31T23:59:59.500Z"])
    func roundTrip(text: String) {
        #expect(UTCTimestamp(text)?.description == text)
    }

    @Test("every instant is written in the fixed form and reads back to itself")
    func sweep() {
        // Steps of just under 7 days and 11 hours from 1900 to 2100 hit every month, leap day and hour digit.
        var ms: Int64 = -2_208_988_800_000
        var count = 0
        while ms < 4_102_444_800_000 {
            let t = UTCTimestamp(millisecondsSinceEpoch: ms)
            let text = t.description
            #expect(text.utf8.count == 24 && text.hasPrefix(t.date.description + "T") && text.hasSuffix("Z"))
            #expect(UTCTimestamp(text)?.millisecondsSinceEpoch == ms, "\(text) does not read back to \(ms)")
            ms += 643_123_457
            count += 1
        }
        #expect(count > 9_000)
        #expect(UTCTimestamp(millisecondsSinceEpoch: 951_782_400_000 - 1).description == "2000-02-28T23:59:59.999Z")
        #expect(UTCTimestamp(millisecondsSinceEpoch: 951_782_400_000 + 86_400_000).description == "2000-03-01T00:00:00.000Z")
        // Years outside four digits keep their full digits.
        #expect(CivilDate(daysSinceEpoch: 3_000_000).description == "10183-09-21")
        #expect(UTCTimestamp(millisecondsSinceEpoch: 3_000_000 * 86_400_000 + 1).description == "10183-09-21T00:00:00.001Z")
    }

    @Test("impossible dates and malformed times are refused", arguments: ["2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-01-01", "2026-04-31"])
    func badDates(text: String) {
        #expect(CivilDate(text) == nil)
    }

    @Test("day arithmetic is exact across leap years")
    func days() {
        #expect(CivilDate("2024-03-01")!.daysSinceEpoch - CivilDate("2024-02-28")!.daysSinceEpoch == 2)
        #expect(CivilDate(daysSinceEpoch: CivilDate("2000-02-29")!.daysSinceEpoch).description == "2000-02-29")
        #expect(UTCTimestamp("2026-07-01T23:59:59Z")!.date.description == "2026-07-01")
        #expect(UTCTimestamp("2026-07-01T24:00:00Z") == nil)
    }
}
