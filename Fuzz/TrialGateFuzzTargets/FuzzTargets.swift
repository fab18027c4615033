import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateService
import TrialGateServer
import TrialGateStore
import Logging

/// The inputs fuzzed, one function per target, each checking what must hold for any input.
///
/// Shared by the coverage-guided fuzzer (`trialgate-fuzz`, built with libFuzzer) and the generator-driven
/// tests, so both check the same properties. A target returns nil when the input was handled as it should be
/// (accepted or refused with a clear error) and a description of the problem otherwise; a crash is a finding
/// in itself.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Bytes → JSON parser → RFC 8785 encoder: whatever parses re-encodes to a fixed point.
    case json
    /// A request line → the dispatcher on a real store: every line gets one JSON reply, refusals carry a code.
    case request
    /// Text → the policy loader: loads, or is refused with a located `TrialGateError`.
    case policy
    /// A client's byte stream → a served connection's line framing, protocol step (authentication, roles,
    /// subscribe) and dispatcher (`ProtocolSession`): every reply is well formed, no more replies than lines.
    case session
    /// An `add-checkpoint` body → the witness's decision (`WitnessRules`): never a crash, the same answer twice, and a
    /// cosignature only for a checkpoint signed by the log's key that extends the one held, by a proof that verifies.
    case witness

    /// Which seed corpus directory (under `Tests/TrialGateTests/Fixtures/corpus`) a target starts from.
    public var corpus: [String] {
        switch self {
        case .json: ["json", "requests"]
        case .request: ["requests"]
        case .policy: ["policies"]
        case .session: ["sessions"]
        case .witness: ["witness"]
        }
    }

    public func run(_ input: [UInt8], context: FuzzContext) -> String? {
        switch self {
        case .json: return Self.json(input)
        case .request: return Self.request(input, dispatcher: context.dispatcher)
        case .policy: return Self.policy(input)
        case .session: return Self.session(input, context: context)
        case .witness: return Self.witness(input)
        }
    }

    static func session(_ input: [UInt8], context: FuzzContext) -> String? {
        // Peers differ by input so that failed authentications reach the rate limit on some hosts, not all.
        let session: ProtocolSession
        do { session = try ProtocolSession(server: context.server, dispatcher: context.dispatcher, peer: "10.0.0.\(input.count % 8):4000") } catch {
            return "the session could not start: \(error)"
        }
        // Delivered in reads of 1–32 bytes (the first byte chooses), as a socket might split them.
        let chunk = 1 + Int(input.first ?? 0) % 32
        var replies: [JSONValue] = []
        do {
            var i = 0
            while i < input.count {
                replies += try session.receive(Array(input[i..<min(i + chunk, input.count)]))
                i += chunk
            }
            replies += try session.finish()
        } catch {
            return "the framing threw: \(error)"
        }
        let lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        if replies.count > lines { return "\(replies.count) replies to \(lines) lines" }
        for reply in replies {
            if let problem = checkReply(CanonicalJSON.string(reply)) { return problem }
        }
        return nil
    }

    /// The log the witness target's witness holds at size 4 (scripts/witness_fuzz_seeds.py made its seeds).
    static let witnessLog = try! WitnessRules.Log(origin: "fuzz.test/witness-log",
                                                  keys: [NoteVerifierKey(vkey: "fuzz.test/witness-log+d73b27ce+Af0XJDhaoMdbZPt4zWAvodmR/ev3axPFjtcC6sg16fYY")])
    static let witnessHeld = WitnessRules.Cosigned(size: 4, root: Array(Data(base64Encoded: "m81RJAr0AFFo8DMSG6hb5abtTw5qX6wmIGZym4+/3ss=")!))

    static func witness(_ input: [UInt8]) -> String? {
        let body = String(decoding: input, as: UTF8.self)
        let latest = [witnessLog.origin: witnessHeld]
        let outcome = WitnessRules.decide(body, logs: [witnessLog], latest: latest)
        guard WitnessRules.decide(body, logs: [witnessLog], latest: latest) == outcome else { return "two decisions of one body differ" }
        guard case .cosign(let checkpoint, let text) = outcome else { return nil }
        // A cosignature: the body parses, its note is signed by the log's key, and it extends what is held.
        guard let request = try? WitnessRules.parse(body) else { return "cosigned a body that does not parse" }
        guard let opened = try? SignedNote.open(request.note, keys: witnessLog.keys), opened.text == text,
              (try? Checkpoint(text: text)) == checkpoint, checkpoint.origin == witnessLog.origin else {
            return "cosigned a checkpoint the log's key did not sign"
        }
        guard request.oldSize == witnessHeld.size, checkpoint.size >= witnessHeld.size else { return "cosigned from another size than the one held" }
        if checkpoint.size == witnessHeld.size {
            return checkpoint.root == witnessHeld.root ? nil : "cosigned another root at the size held"
        }
        do {
            try Merkle.verifyConsistency(size1: witnessHeld.size, size2: checkpoint.size, root1: witnessHeld.root, root2: checkpoint.root, proof: request.proof)
        } catch {
            return "cosigned a checkpoint whose proof does not verify"
        }
        return nil
    }

    static func json(_ input: [UInt8]) -> String? {
        guard let value = try? JSONParser.parse(input) else { return nil }
        let once = CanonicalJSON.encode(value)
        guard let again = try? JSONParser.parse(once) else { return "the canonical form of a parsed value does not parse again" }
        guard CanonicalJSON.encode(again) == once else { return "canonical encoding is not a fixed point" }
        // The canonical check made while parsing must agree with re-encoding, on the input and on its canonical form.
        guard let checked = try? JSONParser.parseCanonical(input), checked.value == value else {
            return "parseCanonical does not read what parse reads"
        }
        if checked.isCanonical != (once == input) {
            return "parseCanonical says \(checked.isCanonical ? "canonical" : "not canonical") but re-encoding says otherwise"
        }
        guard (try? JSONParser.parseCanonical(once))?.isCanonical == true else { return "parseCanonical refuses a canonical form" }
        return nil
    }

    static func request(_ input: [UInt8], dispatcher: Dispatcher) -> String? {
        // A blank line gets no reply; every other line gets one.
        guard let reply = dispatcher.handle(line: input, actor: "fuzz") else {
            return Frame.line(framing: input).isBlank ? nil : "no reply to a line that is not blank"
        }
        return checkReply(reply)
    }

    /// A reply line is one JSON object with `ok`; a refusal names a code and says what was wrong.
    static func checkReply(_ reply: String) -> String? {
        guard let r = try? JSONParser.parse(reply) else { return "the reply is not JSON: \(reply.prefix(200))" }
        switch r["ok"] {
        case .bool(true)?: return nil
        case .bool(false)?:
            guard let code = r["error"]?["code"]?.stringValue, !code.isEmpty,
                  let message = r["error"]?["message"]?.stringValue, !message.isEmpty else {
                return "a refusal without a code and a message: \(reply.prefix(200))"
            }
            return nil
        default: return "a reply without ok: \(reply.prefix(200))"
        }
    }

    static func policy(_ input: [UInt8]) -> String? {
        do {
            _ = try PolicyLoader.load(String(decoding: input, as: UTF8.self), file: "fuzz.yaml")
            return nil
        } catch let e as TrialGateError {
            return e.message.isEmpty ? "a policy error without a message" : nil
        } catch {
            return "a policy error that is not a TrialGateError: \(error)"
        }
    }
}

/// What the request and session targets run against: an initialised store with the shipped policy published,
/// a users file with one user per role (tokens in `tokens`), and a server configuration with 512-byte lines, in a
/// temporary directory removed on deinit.
public final class FuzzContext {
    public let directory: String
    public let store: EventStore
    public let dispatcher: Dispatcher
    public let server: LineServer

    /// The bearer token of each fuzz user, by role; the seed sessions in the corpus use them.
    public static let tokens: [Role: String] = [
        .coordinator: String(repeating: "c1", count: 32), .sponsor: String(repeating: "5b", count: 32),
        .regulator: String(repeating: "7e", count: 32), .admin: String(repeating: "ad", count: 32),
    ]

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tg-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try EventStore.create(path: directory + "/fuzz.sqlite")
        let key = try TrialKey(seed: Array(repeating: 7, count: 32))
        dispatcher = Dispatcher(store: store, clock: FixedClock(), key: { key })
        _ = try dispatcher.execute(.initialise(trialID: "FUZZ-1", logOrigin: "trialgate.fuzz/FUZZ-1"), actor: "admin")
        _ = try dispatcher.execute(.policyPublish(text: ShippedPolicies.sanetEP, file: "sanet-ep.yaml"), actor: "admin")
        for (role, token) in Self.tokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            _ = try dispatcher.execute(.userAdd(name: "fuzz-\(role.rawValue)", role: role.rawValue, sites: role == .coordinator ? ["SITE-01"] : [],
                                                tokenSHA256: Digest.sha256Hex(token), expiresAt: nil), actor: "admin")
        }
        let usersPath = directory + "/users.json"
        var config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: directory + "/fuzz.sqlite",
                                         keyPath: directory + "/unused.key", usersPath: usersPath)
        config.maxLineBytes = 512
        server = LineServer(configuration: config, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A clock that does not move, so runs are reproducible.
struct FixedClock: TimeSource {
    func now() -> UTCTimestamp { UTCTimestamp("2026-07-01T09:00:00.000Z")! }
}
