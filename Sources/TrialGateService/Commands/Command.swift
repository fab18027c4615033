import TrialGateCore

/// Every command TrialGate understands: the one vocabulary of the CLI, `exec` and the socket.
public enum Command: Sendable, Equatable {
    /// Writes the trial.initialised event into a new store.
    case initialise(trialID: String, logOrigin: String)
    case policyPublish(text: String, file: String)
    case policyCheck(text: String, file: String)
    case policyTest(policyText: String, policyFile: String, casesText: String, casesFile: String)
    /// What publishing an amended policy would change: every candidate whose outcome would differ, and how.
    case policyImpact(text: String, file: String)
    case register(candidate: String, fields: JSONValue)
    case record(kind: String, candidate: String, fields: JSONValue)
    case correct(seq: Int64, field: String, value: JSONValue, reason: String)
    case withdraw(candidate: String, reason: String)
    case decide(candidate: String)
    case show(candidate: String, asOfSeq: Int64?, asOfTime: UTCTimestamp?)
    /// Decisions in log order, after sequence number `after`, at most `limit` of them (all when nil).
    case decisions(candidate: String?, outcome: String?, site: String?, after: Int64 = 0, limit: Int? = nil)
    /// Check the whole log; with `checkpoint` (a signed note saved earlier), also prove the log extends it.
    /// `vkey` pins the key the checkpoint must be signed by (otherwise: any key in the log's key history).
    case verify(checkpoint: String? = nil, vkey: String? = nil)
    case replay
    /// Events `from` … `through` as stored, at most `limit` of them (one page; the reply says where the next starts).
    case export(from: Int64, through: Int64?, limit: Int = Command.maximumPage)
    /// The screening report (`format`: `json` or `csv` for the screening log).
    case report(asOfSeq: Int64?, asOfTime: UTCTimestamp?, site: String?, from: CivilDate?, to: CivilDate?, format: String)
    /// Save a signed snapshot of the report state at the log's head, for later reports to fold on from.
    case reportSnapshot
    /// FHIR R4 ResearchSubject resources, one per candidate.
    case exportFHIR(site: String?)
    /// The audit trail as CSV: who, what, when, old value, new value, reason; one page of at most `limit`
    /// events from `from` (the reply says where the next starts).
    case auditTrail(candidate: String?, from: Int64 = 1, limit: Int = Command.maximumPage)
    case head
    case publicKey
    /// The newest signed checkpoint, or the one of exactly `size`.
    case checkpoint(size: Int64?)
    /// The audit path of event `seq` in the tree of `size` events (default: the newest checkpoint's size).
    case proofInclusion(seq: Int64, size: Int64?)
    /// The consistency proof between the trees of `from` and `to` events (default: the newest checkpoint's size).
    case proofConsistency(from: Int64, to: Int64?)
    /// Gives an account the use of the socket: a `user.added` event with the SHA-256 of its token (the token itself is
    /// made and shown by the caller, never sent or kept).
    case userAdd(name: String, role: String, sites: [String], tokenSHA256: String, expiresAt: UTCTimestamp?)
    /// Stops, restarts or ends an account (with a reason); its open sessions are refused from their next request.
    case userDisable(name: String, reason: String)
    case userEnable(name: String, reason: String)
    case userRemove(name: String, reason: String)
    /// Replaces an account's token; sessions opened with the old one are refused from their next request.
    case userRotateToken(name: String, tokenSHA256: String)
    /// Every account, with its status and the events that made it so (never a token).
    case users

    /// The protocol name of the command (`"decide"`, `"policy.publish"`, …).
    public var name: String {
        switch self {
        case .initialise: "init"
        case .policyPublish: "policy.publish"
        case .policyCheck: "policy.check"
        case .policyTest: "policy.test"
        case .policyImpact: "policy.impact"
        case .register: "register"
        case .record: "record"
        case .correct: "correct"
        case .withdraw: "withdraw"
        case .decide: "decide"
        case .show: "show"
        case .decisions: "decisions"
        case .verify: "verify"
        case .replay: "replay"
        case .export: "export"
        case .report: "report"
        case .reportSnapshot: "report.snapshot"
        case .exportFHIR: "export.fhir"
        case .auditTrail: "audit-trail"
        case .head: "head"
        case .publicKey: "public-key"
        case .checkpoint: "checkpoint"
        case .proofInclusion: "proof.inclusion"
        case .proofConsistency: "proof.consistency"
        case .userAdd: "user.add"
        case .userDisable: "user.disable"
        case .userEnable: "user.enable"
        case .userRemove: "user.remove"
        case .userRotateToken: "user.rotate-token"
        case .users: "users"
        }
    }

    /// Whether the command appends to the log.
    public var writes: Bool {
        switch self {
        case .initialise, .policyPublish, .register, .record, .correct, .withdraw, .decide,
             .userAdd, .userDisable, .userEnable, .userRemove, .userRotateToken: true
        default: false
        }
    }

    /// Every protocol command name, for error messages and docs.
    /// The most rows one page of a listing may ask for.
    public static let maximumPage = 10_000

    public static let names = ["init", "policy.publish", "policy.check", "policy.test", "policy.impact", "register", "record", "correct",
                               "withdraw", "decide", "show", "decisions", "verify", "replay", "export", "report", "report.snapshot",
                               "export.fhir", "audit-trail", "head", "public-key", "checkpoint", "proof.inclusion", "proof.consistency",
                               "user.add", "user.disable", "user.enable", "user.remove", "user.rotate-token", "users"]
}
