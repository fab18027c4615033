import Testing
@testable import TrialGateCore

@Suite("UTC timestamps and calendar dates")
struct TimeTests {
    @Test("timestamps round-trip in the fixed RFC 3339 form", arguments: ["1970-01-01T00:00:00.000Z", "2026-02-28T23:59:59.999Z", "2024-02-29T12:00:00.001Z", "1969-12-31T23:59:59.500Z"])
    func roundTrip(text: String) {
        #expect(UTCTimestamp(text)?.description == text)
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
