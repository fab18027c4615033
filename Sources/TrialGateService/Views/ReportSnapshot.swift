import Foundation
import TrialGateAudit
import TrialGateCore

/// A report state saved at a log position: a compact binary form of `ReportState`, and the statement the trial
/// key signs over it. Decoding checks every length; the signature and the log are checked by the dispatcher.
///
/// The trial and its keys are not saved: they are read from the log itself when a snapshot is loaded, so a
/// snapshot cannot bring a key of its own.
public enum ReportSnapshot {
    /// Version 4 keeps each withdrawal's CONSORT category (and its reason only when one was given). Version 3 keeps what makes the newest decision stale, its sign-off and the review queries; version 2 added
    /// each model score's study date and each latest decision's policy (older snapshots are not used: a report
    /// folds past them).
    public static let format = "trialgate.report-snapshot/4"
    /// Formats earlier releases saved: skipped, never an integrity problem (a snapshot is derived data).
    static let olderFormats: Set<String> = ["trialgate.report-snapshot/1", "trialgate.report-snapshot/2", "trialgate.report-snapshot/3"]
    private static let magic: [UInt8] = Array("TGRS4".utf8)

    /// What the trial key signs: the snapshot's format, the trial, the log position (size and the hash of the
    /// event there), the SHA-256 of the encoded state, the signing key and when it was made.
    static func statement(trialID: String, size: Int64, head: String, stateSHA256: String, keyID: String, madeAt: UTCTimestamp) -> JSONValue {
        [
            "format": .string(format), "trial_id": .string(trialID),
            "log": ["size": .number(Double(size)), "head": .string(head)],
            "state_sha256": .string(stateSHA256), "key_id": .string(keyID), "made_at": .string(madeAt.description),
        ]
    }

    /// The state's candidates in a stable order, every signature verdict settled.
    /// - Precondition: no verdict is pending (`ReportState.checkSignatures()` ran).
    static func encode(_ state: ReportState) -> [UInt8] {
        var w = Writer()
        w.bytes += magic
        w.int(Int64(state.candidates.count))
        for c in state.candidates.values.sorted(by: { $0.id < $1.id }) {
            w.string(c.id)
            w.int(c.registeredSeq)
            w.time(c.registeredAt)
            w.word(c.site)
            w.json(c.consentDate)
            w.int(Int64(c.scores.count))
            for s in c.scores { w.int(s.seq); w.json(s.score); w.string(s.observed) }
            w.int(Int64(c.decisionCount))
            w.flag(c.firstDecisionAt != nil)
            if let t = c.firstDecisionAt { w.time(t) }
            w.flag(c.latest != nil)
            if let d = c.latest {
                w.int(d.seq)
                w.time(d.timestamp)
                w.word(d.outcome)
                w.int(Int64(d.results.count))
                for (id, r) in d.results.sorted(by: { $0.key < $1.key }) { w.word(id); w.word(r) }
                switch d.verdict {
                case .valid: w.flag(true)
                case .invalid: w.flag(false)
                case .pending: preconditionFailure("a snapshot needs every signature checked")
                }
                w.string(d.policy)
            }
            w.flag(c.withdrawal != nil)
            if let x = c.withdrawal {
                w.int(x.seq)
                w.word(x.category?.rawValue ?? "")
                w.flag(x.reason != nil)
                if let reason = x.reason { w.string(reason) }
                w.time(x.timestamp)
            }
            w.int(Int64(c.corrections.count))
            for k in c.corrections {
                w.int(k.seq); w.time(k.timestamp); w.word(k.actor); w.int(k.corrects); w.word(k.record.rawValue)
                w.word(k.field); w.json(k.oldValue); w.json(k.newValue); w.string(k.reason)
            }
            w.int(Int64(c.correctedRecords.count))
            for (seq, type) in c.correctedRecords.sorted(by: { $0.key < $1.key }) { w.int(seq); w.word(type.rawValue) }
            w.int(Int64(c.changesSinceDecision.count))
            for k in c.changesSinceDecision { w.int(k.seq); w.word(k.type.rawValue); w.string(k.detail) }
            w.flag(c.signOff != nil)
            if let o = c.signOff {
                w.int(o.seq); w.time(o.timestamp); w.word(o.signer); w.string(o.printedName); w.word(o.meaning.rawValue)
                w.flag(o.reason != nil)
                if let reason = o.reason { w.string(reason) }
            }
            w.int(Int64(c.queries.count))
            for q in c.queries {
                w.int(q.seq); w.time(q.openedAt); w.word(q.about); w.flag(q.answered)
                w.flag(q.closedAt != nil)
                if let t = q.closedAt { w.time(t) }
            }
        }
        return w.bytes
    }

    /// The candidates of an encoded state.
    static func decode(_ bytes: [UInt8]) throws -> [String: ReportCandidate] {
        var r = Reader(bytes: bytes)
        guard Array(try r.take(magic.count)) == magic else { throw Reader.Malformed(why: "not a report snapshot") }
        let count = try r.count()
        var candidates: [String: ReportCandidate] = [:]
        candidates.reserveCapacity(count)
        for _ in 0..<count {
            var c = ReportCandidate(id: try r.string(), registeredSeq: try r.int(), registeredAt: try r.time(), site: try r.word(),
                                    consentDate: try r.json())
            for _ in 0..<(try r.count()) { c.scores.append((try r.int(), try r.json(), try r.string())) }
            c.decisionCount = try r.number()
            if try r.flag() { c.firstDecisionAt = try r.time() }
            if try r.flag() {
                let seq = try r.int(), timestamp = try r.time(), outcome = try r.word()
                var results: [String: String] = [:]
                for _ in 0..<(try r.count()) { results[try r.word()] = try r.word() }
                c.latest = ReportDecision(seq: seq, timestamp: timestamp, outcome: outcome, results: results,
                                          verdict: try r.flag() ? .valid : .invalid, policy: try r.string())
            }
            if try r.flag() {
                let seq = try r.int(), code = try r.word()
                guard code.isEmpty || WithdrawalCategory(rawValue: code) != nil else { throw Reader.Malformed(why: "unknown withdrawal category") }
                let reason = try r.flag() ? try r.string() : nil
                c.withdrawal = (seq, WithdrawalCategory(rawValue: code), reason, try r.time())
            }
            for _ in 0..<(try r.count()) {
                let seq = try r.int(), timestamp = try r.time(), actor = try r.word(), corrects = try r.int()
                c.corrections.append(ReportCorrection(seq: seq, timestamp: timestamp, actor: actor, corrects: corrects, record: try r.type(),
                                                      field: try r.word(), oldValue: try r.json(), newValue: try r.json(), reason: try r.string()))
            }
            for _ in 0..<(try r.count()) { c.correctedRecords[try r.int()] = try r.type() }
            for _ in 0..<(try r.count()) { c.changesSinceDecision.append(StaleCause(seq: try r.int(), type: try r.type(), detail: try r.string())) }
            if try r.flag() {
                let seq = try r.int(), timestamp = try r.time(), signer = try r.word(), printed = try r.string()
                guard let meaning = SignOffMeaning(rawValue: try r.word()) else { throw Reader.Malformed(why: "unknown sign-off meaning") }
                c.signOff = ReportSignOff(seq: seq, timestamp: timestamp, signer: signer, printedName: printed, meaning: meaning,
                                          reason: try r.flag() ? try r.string() : nil)
            }
            for _ in 0..<(try r.count()) {
                let seq = try r.int(), opened = try r.time(), about = try r.word(), answered = try r.flag()
                c.queries.append(ReportQuery(seq: seq, openedAt: opened, about: about, answered: answered, closedAt: try r.flag() ? try r.time() : nil))
            }
            guard candidates.updateValue(c, forKey: c.id) == nil else { throw Reader.Malformed(why: "candidate \(c.id) twice") }
        }
        guard r.atEnd else { throw Reader.Malformed(why: "bytes after the last candidate") }
        return candidates
    }

    /// Appends LEB128 integers (zigzag, so negative numbers stay short), length-prefixed UTF-8, and repeated
    /// strings by number.
    private struct Writer {
        var bytes: [UInt8] = []

        mutating func int(_ n: Int64) {
            var v = UInt64(bitPattern: (n << 1) ^ (n >> 63))
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        mutating func string(_ s: String) {
            int(Int64(s.utf8.count))
            bytes += s.utf8
        }

        /// Strings that repeat (sites, criterion ids, results, actors): the first time in full, then by number.
        private var words: [String: Int64] = [:]
        mutating func word(_ s: String) {
            if let n = words[s] { return int(n + 1) }
            words[s] = Int64(words.count)
            int(0)
            string(s)
        }

        mutating func flag(_ b: Bool) { bytes.append(b ? 1 : 0) }
        mutating func time(_ t: UTCTimestamp) { int(t.millisecondsSinceEpoch) }
        mutating func json(_ v: JSONValue) {
            let text = CanonicalJSON.encode(v)
            int(Int64(text.count))
            bytes += text
        }
    }

    private struct Reader {
        struct Malformed: Error, CustomStringConvertible {
            let why: String
            var description: String { "malformed report snapshot: \(why)" }
        }

        let bytes: [UInt8]
        var at = 0
        var atEnd: Bool { at == bytes.count }

        mutating func int() throws -> Int64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < bytes.count, shift < 64 else { throw Malformed(why: "truncated number at byte \(at)") }
                let b = bytes[at]
                at += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
        }

        /// A number that is not a count of what follows (it may exceed the bytes left).
        mutating func number() throws -> Int {
            let n = try int()
            guard n >= 0, n <= Int64(Int.max) else { throw Malformed(why: "negative number \(n) before byte \(at)") }
            return Int(n)
        }

        /// The number of items that follow: each takes at least one byte.
        mutating func count() throws -> Int {
            let n = try int()
            guard n >= 0, n <= bytes.count - at else { throw Malformed(why: "count \(n) at byte \(at) is more than is left") }
            return Int(n)
        }

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n <= bytes.count - at else { throw Malformed(why: "truncated at byte \(at)") }
            defer { at += n }
            return bytes[at..<at + n]
        }

        mutating func string() throws -> String {
            let slice = try take(try count())
            guard let s = String(validating: slice, as: UTF8.self) else { throw Malformed(why: "invalid UTF-8 before byte \(at)") }
            return s
        }

        var words: [String] = []
        mutating func word() throws -> String {
            let n = try int()
            if n == 0 {
                words.append(try string())
                return words[words.count - 1]
            }
            guard n >= 1, n <= words.count else { throw Malformed(why: "unknown word \(n) before byte \(at)") }
            return words[Int(n - 1)]
        }

        mutating func flag() throws -> Bool {
            let b = try take(1).first!
            guard b <= 1 else { throw Malformed(why: "flag \(b) at byte \(at - 1)") }
            return b == 1
        }

        mutating func time() throws -> UTCTimestamp { UTCTimestamp(millisecondsSinceEpoch: try int()) }
        mutating func json() throws -> JSONValue { try JSONParser.parse(Array(try take(try count()))) }
        mutating func type() throws -> EventType {
            let raw = try word()
            guard let t = EventType(rawValue: raw) else { throw Malformed(why: "unknown event type \(raw)") }
            return t
        }
    }
}
