import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateService
import TrialGateStore

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
    /// Text → the policy loader: loads, or is refused with a located `CoreError`.
    case policy

    /// Which seed corpus directory (under `Tests/TrialGateTests/Fixtures/corpus`) a target starts from.
    public var corpus: [String] {
        switch self {
        case .json: ["json", "requests"]
        case .request: ["requests"]
        case .policy: ["policies"]
        }
    }

    public func run(_ input: [UInt8], context: FuzzContext) -> String? {
        switch self {
        case .json: return Self.json(input)
        case .request: return Self.request(input, dispatcher: context.dispatcher)
        case .policy: return Self.policy(input)
        }
    }

    static func json(_ input: [UInt8]) -> String? {
        guard let value = try? JSONParser.parse(input) else { return nil }
        let once = CanonicalJSON.encode(value)
        guard let again = try? JSONParser.parse(once) else { return "the canonical form of a parsed value does not parse again" }
        guard CanonicalJSON.encode(again) == once else { return "canonical encoding is not a fixed point" }
        return nil
    }

    static func request(_ input: [UInt8], dispatcher: Dispatcher) -> String? {
        checkReply(dispatcher.handle(line: input, actor: "fuzz"))
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
        } catch let e as CoreError {
            return e.message.isEmpty ? "a policy error without a message" : nil
        } catch {
            return "a policy error that is not a CoreError: \(error)"
        }
    }
}

/// What the request target runs against: an initialised store with the shipped policy published, in a
/// temporary directory removed on deinit.
public final class FuzzContext {
    public let directory: String
    public let store: EventStore
    public let dispatcher: Dispatcher

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tg-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try EventStore.create(path: directory + "/fuzz.sqlite")
        let key = try TrialKey(seed: Array(repeating: 7, count: 32))
        dispatcher = Dispatcher(store: store, clock: FixedClock(), key: { key })
        _ = try dispatcher.execute(.initialise(trialID: "FUZZ-1", logOrigin: "trialgate.fuzz/FUZZ-1"), actor: "admin")
        _ = try dispatcher.execute(.policyPublish(text: ShippedPolicies.sanetSurufatinib, file: "sanet-surufatinib.yaml"), actor: "admin")
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
