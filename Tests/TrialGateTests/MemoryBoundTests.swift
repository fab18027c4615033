import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// What keeps a long-running server's memory bounded: the writer's candidate cache and paged listings.
@Suite("Bounded memory: candidate cache and paged listings")
struct MemoryBoundTests {
    static let ki67: JSONValue = ["percent": 8, "specimen_date": "2026-03-02", "method": "manual_count"]

    /// Registers `count` candidates, records a Ki-67 for each and decides each, single commands and batches mixed.
    static func drive(_ f: Fixture, count: Int) throws {
        for i in 0..<count {
            try f.run(.register(candidate: "C-\(i)", fields: ["site": "S1"]))
            f.clock.advance(seconds: 1)
        }
        // Go back to the early candidates (evicted from a small cache) with batches and single commands.
        for i in 0..<count {
            if i % 2 == 0 {
                let results = try f.dispatcher.executeBatch([
                    (.record(kind: "ki67", candidate: "C-\(i)", fields: Self.ki67), "coordinator"),
                    (.decide(candidate: "C-\(i)"), "coordinator"),
                ])
                for r in results { _ = try r.get() }
            } else {
                try f.run(.record(kind: "ki67", candidate: "C-\(i)", fields: Self.ki67))
                try f.run(.decide(candidate: "C-\(i)"))
            }
            f.clock.advance(seconds: 1)
        }
    }

    @Test("the writer keeps at most its capacity of candidates, least recently used dropped first")
    func cacheIsBounded() {
        var cache = CandidateCache(capacity: 8)
        let states = (0..<40).map { Self.state("C-\($0)") }
        for (i, s) in states.enumerated() {
            cache.put(s, for: "C-\(i)")
            _ = cache.get("C-0")  // C-0 stays in use throughout
            #expect(cache.count <= 8)
        }
        #expect(cache.peek("C-0") != nil)
        #expect(cache.peek("C-39") != nil)
        #expect(cache.peek("C-1") == nil)
        cache.removeAll()
        #expect(cache.count == 0)
    }

    @Test("a full cache drops one entry per entry it takes in, the least recently used, never a batch of them at once")
    func cacheEvictsOneAtATime() {
        var cache = CandidateCache(capacity: 16)
        for i in 0..<200 {
            cache.put(Self.state("C-\(i)"), for: "C-\(i)")
            if i % 3 == 0 { _ = cache.get("C-0") }  // C-0 stays in use
            if i % 7 == 0, let kept = cache.take("C-\(i)") { cache.put(kept, for: "C-\(i)") }
            // Full from the 16th entry on, and never emptier: freeing many folded candidates at once held the writer.
            #expect(cache.count == min(i + 1, 16), "after \(i + 1) entries: \(cache.count)")
        }
        #expect(cache.peek("C-0") != nil)
        // The other 15 are the 15 newest.
        #expect((185..<200).allSatisfy { cache.peek("C-\($0)") != nil })
        #expect(cache.peek("C-184") == nil)
    }

    @Test("show reuses a candidate's view only while it is current, also when another connection writes")
    func shownViewsStayCurrent() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP, candidateCacheCapacity: 2)
        // A second connection on the same file, as the server's reader threads have.
        let reader = Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key }, candidateCacheCapacity: 2)
        let sponsor = Principal(name: "sponsor", role: .sponsor, sites: [])
        func shown(_ id: String) throws -> JSONValue {
            let view = try reader.execute(.show(candidate: id, asOfSeq: nil, asOfTime: nil), actor: "sponsor")
            // What a dispatcher with nothing cached says.
            let fresh = Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key })
            #expect(try fresh.execute(.show(candidate: id, asOfSeq: nil, asOfTime: nil), actor: "sponsor") == view)
            // The bytes a reader thread answers, from the cache or not, are the view's canonical encoding.
            #expect(try reader.executeEncoded(.show(candidate: id, asOfSeq: nil, asOfTime: nil), principal: sponsor) == CanonicalJSON.encode(view))
            #expect(try fresh.executeEncoded(.show(candidate: id, asOfSeq: nil, asOfTime: nil), principal: sponsor) == CanonicalJSON.encode(view))
            return view
        }
        try f.run(.register(candidate: "C-1", fields: ["site": "S1"]))
        let registration = try f.size()
        try f.run(.record(kind: "ki67", candidate: "C-1", fields: Self.ki67))
        let first = try shown("C-1")
        #expect(try shown("C-1") == first)
        #expect(reader.candidateViews.count == 1)
        #expect(try reader.siteOf(candidate: "C-1") == "S1")

        try f.run(.record(kind: "ki67", candidate: "C-1", fields: ["percent": 25, "specimen_date": "2026-03-09", "method": "manual_count"]))
        let second = try shown("C-1")
        #expect(second != first)
        try f.run(.correct(seq: registration, field: "site", value: "S2", reason: "entered at the wrong site"))
        _ = try shown("C-1")
        #expect(try reader.siteOf(candidate: "C-1") == "S2")

        // Bounded like the writer's cache.
        for i in 2...6 {
            try f.run(.register(candidate: "C-\(i)", fields: ["site": "S1"]))
            _ = try shown("C-\(i)")
            #expect(reader.candidateViews.count <= 2)
        }
        // Views as of an earlier point are never cached, and never served from the cache.
        let early = try reader.execute(.show(candidate: "C-1", asOfSeq: registration + 1, asOfTime: nil), actor: "sponsor")
        #expect(early != second)
        #expect(try reader.executeEncoded(.show(candidate: "C-1", asOfSeq: registration + 1, asOfTime: nil), principal: sponsor)
                == CanonicalJSON.encode(early))
        // Refusals are the same errors as unencoded: the site rule (the candidate moved to S2) and an unknown candidate.
        let coordinator = Principal(name: "carol", role: .coordinator, sites: ["S1"])
        #expect { _ = try reader.executeEncoded(.show(candidate: "C-1", asOfSeq: nil, asOfTime: nil), principal: coordinator) } throws: {
            ($0 as? TrialGateError)?.code.rawValue == "forbidden"
        }
        #expect { _ = try reader.executeEncoded(.show(candidate: "NOBODY", asOfSeq: nil, asOfTime: nil), principal: sponsor) } throws: {
            ($0 as? TrialGateError)?.code == .unknownCandidate
        }
        #expect(try reader.executeEncoded(.head, principal: sponsor) == CanonicalJSON.encode(try reader.execute(.head, actor: "sponsor")))
        #expect(reader.viewChecks == nil)
        #expect(reader.candidateViews.peek("C-1") == nil || reader.candidateViews.peek("C-1")?.seq != registration + 1)
    }

    /// A candidate folded from its registration alone.
    static func state(_ id: String) -> CandidateState {
        let draft = EventDraft(timestamp: UTCTimestamp("2026-07-01T09:00:00.000Z")!, actor: "a", type: .candidateRegistered,
                               candidate: id, payload: ["site": "S1"])
        let event = HashChain.seal(draft, seq: 1, prevHash: String(repeating: "0", count: 64))
        return try! LogState(partial: [event], head: (1, event.hash)).candidates[id]!
    }

    @Test("a dispatcher with a tiny cache writes exactly the log a roomy one writes")
    func evictionChangesNothing() throws {
        let tiny = try Fixture(policy: ShippedPolicies.sanetEP, candidateCacheCapacity: 2)
        let roomy = try Fixture(policy: ShippedPolicies.sanetEP)
        try Self.drive(tiny, count: 30)
        try Self.drive(roomy, count: 30)
        #expect(tiny.dispatcher.cachedCandidateCount <= 2)
        #expect(roomy.dispatcher.cachedCandidateCount == 30)
        #expect(try tiny.store.head() == roomy.store.head())
        #expect(try tiny.run(.verify())["valid"] == true)
    }

    @Test("decisions page by page: limit, next_after, and the pages together give the whole listing")
    func decisionsArePaged() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try Self.drive(f, count: 7)
        let all = try f.run(.decisions(candidate: nil, outcome: nil, site: nil))
        #expect(all["count"] == 7)
        #expect(all["next_after"] == .null)
        var after: Int64 = 0
        var pages: [Int] = []
        var seen: [JSONValue] = []
        while true {
            let page = try f.run(.decisions(candidate: nil, outcome: nil, site: nil, after: after, limit: 3))
            let rows = page["decisions"]?.arrayValue ?? []
            pages.append(rows.count)
            seen += rows
            guard let next = page["next_after"]?.intValue else { break }
            #expect(Int64(next) == rows.last?["seq"]?.intValue.map(Int64.init))
            after = Int64(next)
        }
        #expect(pages == [3, 3, 1])
        #expect(seen == all["decisions"]?.arrayValue)
        // A page that ends exactly on the last decision says no more follow.
        let exact = try f.run(.decisions(candidate: nil, outcome: nil, site: nil, after: 0, limit: 7))
        #expect(exact["count"] == 7 && exact["next_after"] == .null)
    }

    @Test("bad paging arguments are refused with the field named")
    func badPaging() throws {
        for (line, word) in [(#"{"cmd":"decisions","limit":0}"#, "limit"), (#"{"cmd":"decisions","limit":10001}"#, "limit"),
                             (#"{"cmd":"decisions","after":-1}"#, "after"), (#"{"cmd":"decisions","limit":"ten"}"#, "limit")] {
            do {
                _ = try Command.parse(try JSONParser.parse(line))
                Issue.record("accepted \(line)")
            } catch {
                let e = TrialGateError(error)
                #expect(e.code.rawValue == "invalid_field", "\(line)")
                #expect(e.message.contains(word), "\(line): \(e.message)")
            }
        }
    }
}
