import Foundation
import TrialGateCore

/// Checks decisions on other cores while one thread folds the log: each decision's Ed25519 signature over its
/// canonical bytes, and its re-derivation (the policy evaluated again on the candidate as it stood just before the
/// decision, which must give the same JSON).
///
/// Everything a check needs is captured when the fold reaches the decision (the candidate's state is a value, so
/// later events do not change the copy), and the checks run in batches on a concurrent queue; `finish` waits for them
/// and gives the verdicts in log order. The fold itself only applies events.
final class DecisionChecks: Sendable {
    /// What re-deriving a decision needs: the state and context the decision names.
    struct Context: Sendable {
        let candidate: CandidateState
        let policy: Policy
        let models: ModelEvidence
        let policySHA256: String
        let logSize: Int64
        let logHead: String
        let decidedAt: UTCTimestamp
        let decidedBy: String
        let keyID: String
    }

    struct Item: Sendable {
        let seq: Int64
        let decision: JSONValue
        /// The decision's canonical bytes as stored, if known; else encoded from `decision`.
        let signed: ArraySlice<UInt8>?
        let signature: [UInt8]
        let publicKey: [UInt8]
        /// Nil when the decision does not name its context (the fold has reported it): only the signature is checked.
        let context: Context?
    }

    struct Verdict: Sendable {
        let seq: Int64
        let signatureValid: Bool
        /// Whether re-deriving gave the same JSON; nil when not re-derived.
        let reproduced: Bool?
        /// The re-derived outcome, when it differs.
        let rederivedOutcome: String?
        /// The outcome the log states.
        let loggedOutcome: String?
    }

    private let batches = ConcurrentBatches<Item, Verdict>(label: "trialgate.decisions", batchSize: 32) { $0.map(DecisionChecks.check) }

    /// Queues one decision; batches start on other threads as they fill.
    func add(_ item: Item) { batches.add(item) }

    /// Waits for every batch; the verdicts in log order.
    func finish() -> [Verdict] { batches.finish().sorted { $0.seq < $1.seq } }

    /// The checks of one decision. Pure; runs on any thread.
    static func check(_ item: Item) -> Verdict {
        let message = item.signed.map(Array.init) ?? Decision.signedBytes(of: item.decision)
        let valid = SignatureCheck.verify(signature: item.signature, message: message, publicKey: item.publicKey)
        let logged = item.decision["outcome"]?.stringValue
        guard let c = item.context else {
            return Verdict(seq: item.seq, signatureValid: valid, reproduced: nil, rederivedOutcome: nil, loggedOutcome: logged)
        }
        let rederived = Decision(candidate: c.candidate, policy: c.policy, models: c.models, policySHA256: c.policySHA256, logSize: c.logSize,
                                 logHead: c.logHead, decidedAt: c.decidedAt, decidedBy: c.decidedBy, keyID: c.keyID)
        let same = rederived.json == item.decision
        return Verdict(seq: item.seq, signatureValid: valid, reproduced: same, rederivedOutcome: same ? nil : rederived.outcome.rawValue,
                       loggedOutcome: logged)
    }
}
