import TrialGateAudit
import TrialGateCore

/// Every command TrialGate understands: the one vocabulary of the CLI, `exec` and the socket.
public enum Command: Sendable, Equatable {
    /// Writes the trial.initialised event into a new store.
    case initialise(trialID: String, logOrigin: String)
    case policyPublish(text: String, file: String)
    case policyCheck(text: String, file: String)
    /// Runs a case table against a policy; `models` are the model versions its model gates read, as `model.register` takes them.
    case policyTest(policyText: String, policyFile: String, casesText: String, casesFile: String, models: [ModelSubmission] = [])
    /// What publishing an amended policy would change: every candidate whose outcome would differ, and how.
    case policyImpact(text: String, file: String)
    case register(candidate: String, fields: JSONValue)
    case record(kind: String, candidate: String, fields: JSONValue)
    case correct(seq: Int64, field: String, value: JSONValue, reason: String)
    /// Records that a candidate left screening: the CONSORT category, with the reason in words (required with `other`).
    case withdraw(candidate: String, category: WithdrawalCategory, reason: String?)
    /// Imports a CSV file of registrations and records (`docs/import.md`): every row checked first, every problem
    /// listed by row and column; then all rows in one commit with a `records.imported` receipt, or nothing. With
    /// `dryRun`, only the checks. `site`: the one site the file's candidates must belong to (nil: any the caller may).
    case importRecords(file: String, content: [UInt8], site: String?, dryRun: Bool)
    case decide(candidate: String)
    case show(candidate: String, asOfSeq: Int64?, asOfTime: UTCTimestamp?)
    /// Decisions in log order, after sequence number `after`, at most `limit` of them (all when nil); with
    /// `standing`, only those that are `current`, `stale` or `superseded`.
    case decisions(candidate: String?, outcome: String?, site: String?, after: Int64 = 0, limit: Int? = nil, standing: String? = nil)
    /// Registered candidates by site and status, a page at a time (after a registration seq).
    case candidates(site: String?, status: String?, after: Int64 = 0, limit: Int? = nil)
    /// The statement an investigator would sign to confirm decision `decision` (`outcome` nil or equal to the
    /// decision's) or override it (`outcome` the other one, with a reason). `user` is the signing account (on the socket: the
    /// session's, and only it).
    case signOffPrepare(decision: Int64, outcome: String?, reason: String?, user: String?)
    /// Appends an investigator's sign-off: the statement `signOffPrepare` made, signed on the investigator's side
    /// with their Ed25519 key, and their signature components: the account name (`user`; on the socket required
    /// at the first signing of a session) and the signing code.
    case signOff(statement: JSONValue, signature: String, user: String?, signingCode: String)
    /// The statement an investigator would sign to attest a criterion of `candidate` (`fields`: criterion, result,
    /// attested_on, statement).
    case attestPrepare(candidate: String, fields: JSONValue, user: String?)
    /// Appends an investigator's signed attestation: the statement `attestPrepare` made, its signature, and the
    /// signature components as for `signOff`.
    case attest(statement: JSONValue, signature: String, user: String?, signingCode: String)
    /// Review queries, filtered by candidate, site and status (`open`, `answered`, `closed`; `open` lists every
    /// query not closed).
    case queries(candidate: String?, site: String?, status: String?)
    /// Opens a query on a candidate: about a criterion, or a question.
    case queryOpen(candidate: String, criterion: String?, text: String)
    /// Answers a query with a note and the records that answer it.
    case queryAnswer(query: Int64, note: String, records: [Int64])
    case queryClose(query: Int64, resolution: String)
    /// Check the whole log; with `checkpoint` (a signed note saved earlier), also prove the log extends it.
    /// `vkey` pins the key the checkpoint must be signed by (otherwise: any key in the log's key history).
    case verify(checkpoint: String? = nil, vkey: String? = nil, everyCheckpoint: Bool = false)
    case replay
    /// Events `from` … `through` as stored, at most `limit` of them (one page; the reply says where the next starts).
    case export(from: Int64, through: Int64?, limit: Int = Command.maximumPage)
    /// The screening report (`format`: `json` or `csv` for the screening log).
    case report(asOfSeq: Int64?, asOfTime: UTCTimestamp?, site: String?, from: CivilDate?, to: CivilDate?, format: String)
    /// Save a signed snapshot of the report state at the log's head, for later reports to fold on from.
    case reportSnapshot
    /// FHIR R4 ResearchSubject resources, one per candidate.
    case exportFHIR(site: String?)
    /// One page of the CDISC ODM 1.3.2 document of the log folded up to `through` (default: the head): the candidates
    /// registered after registration seq `after` (of `site`, if given), at most `limit` of them.
    case exportODM(through: Int64? = nil, site: String? = nil, after: Int64 = 0, limit: Int = Command.odmPage)
    /// One page of the SDTM IE domain (criteria not met) of the log folded up to `through`, paged as `exportODM`.
    case exportSDTMIE(through: Int64? = nil, site: String? = nil, after: Int64 = 0, limit: Int = Command.maximumPage)
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
    /// An investigator's account also registers their printed name, Ed25519 public key and the SHA-256 of their
    /// signing code (`signer`).
    case userAdd(name: String, role: String, sites: [String], tokenSHA256: String, expiresAt: UTCTimestamp?, signer: SignerRegistration? = nil)
    /// Stops, restarts or ends an account (with a reason); its open sessions are refused from their next request.
    case userDisable(name: String, reason: String)
    case userEnable(name: String, reason: String)
    case userRemove(name: String, reason: String)
    /// Replaces an account's token; sessions opened with the old one are refused from their next request.
    case userRotateToken(name: String, tokenSHA256: String)
    /// Brings an investigator's new Ed25519 public key and signing code (its SHA-256) into force; statements signed
    /// earlier stay verifiable with the key they name.
    case userRotateSigner(name: String, publicKey: String, signingSHA256: String)
    /// Every account, with its status and the events that made it so (never a token).
    case users
    /// Streams the log from event `from` on, over a served connection only (`LineProtocol` answers it).
    case subscribe(from: Int64)
    /// Brings `newKey` into force as the trial's signing key (`key.rotated`, signed by the key in force and the new
    /// one). The command line's only: a private key never crosses the socket.
    case keyRotate(newKey: TrialKey)
    /// Registers a model version: its card, its artifact (`trialgate.model/1`) and the extraction settings it expects.
    case modelRegister(card: JSONValue, artifact: String, settings: String)
    /// Every registered model version.
    case models
    /// One registered model version's card, artifact and settings.
    case modelShow(id: String, version: String)
    /// A candidate's score under a registered model, computed from their recorded features (version nil: the newest).
    case modelScore(candidate: String, model: String, version: String?)
    /// Writes the audit bundle into `directory`, which must not exist yet; nothing is left half-written. The command
    /// line's only: a socket client does not write files on the server's host.
    /// The witnesses (cosigner vkeys) and quorum a verifier of the bundle should require, recorded in its manifest.
    case exportBundle(directory: String, witnesses: [String] = [], quorum: Int? = nil)

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
        case .importRecords: "import"
        case .decide: "decide"
        case .show: "show"
        case .decisions: "decisions"
        case .candidates: "candidates"
        case .verify: "verify"
        case .replay: "replay"
        case .export: "export"
        case .report: "report"
        case .reportSnapshot: "report.snapshot"
        case .exportFHIR: "export.fhir"
        case .exportODM: "export.odm"
        case .exportSDTMIE: "export.sdtm-ie"
        case .auditTrail: "audit-trail"
        case .head: "head"
        case .publicKey: "public-key"
        case .checkpoint: "checkpoint"
        case .proofInclusion: "proof.inclusion"
        case .proofConsistency: "proof.consistency"
        case .signOffPrepare: "signoff.prepare"
        case .signOff: "signoff"
        case .attestPrepare: "attest.prepare"
        case .attest: "attest"
        case .queries: "queries"
        case .queryOpen: "query.open"
        case .queryAnswer: "query.answer"
        case .queryClose: "query.close"
        case .userAdd: "user.add"
        case .userDisable: "user.disable"
        case .userEnable: "user.enable"
        case .userRemove: "user.remove"
        case .userRotateToken: "user.rotate-token"
        case .userRotateSigner: "user.rotate-signer"
        case .users: "users"
        case .subscribe: "subscribe"
        case .keyRotate: "key.rotate"
        case .exportBundle: "export.bundle"
        case .modelRegister: "model.register"
        case .models: "models"
        case .modelShow: "model.show"
        case .modelScore: "model.score"
        }
    }

    /// Whether the command appends to the log.
    public var writes: Bool {
        switch self {
        case .initialise, .policyPublish, .register, .record, .correct, .withdraw, .importRecords, .decide, .signOff, .attest, .queryOpen, .queryAnswer, .queryClose,
             .userAdd, .userDisable, .userEnable, .userRemove, .userRotateToken, .userRotateSigner, .keyRotate, .modelRegister: true
        default: false
        }
    }

    /// The largest import file, in bytes (32 MiB). Over the socket the request line's limit (`serve --max-line`) is
    /// the tighter one: the file travels in it as base64.
    public static let maximumImportBytes = 32 * 1024 * 1024

    /// The most rows one page of a listing may ask for.
    public static let maximumPage = 10_000

    /// The candidates one page of the ODM export holds unless asked otherwise (each brings all its records).
    public static let odmPage = 200

    /// Why `limit` cannot be a page's size, or nil if it can: the one rule for the socket and the command line.
    public static func pageLimitProblem(_ limit: Int) -> String? {
        (1...maximumPage).contains(limit) ? nil : "must be between 1 and \(maximumPage), got \(limit)"
    }

    /// The protocol command names an unknown command's error lists (`key.rotate` and `export.bundle` are the command
    /// line's, never a request's; `subscribe` is left out, as the socket's reply has always left it out).

    public static let names = ["init", "policy.publish", "policy.check", "policy.test", "policy.impact", "register", "record", "correct",
                               "withdraw", "import", "decide", "show", "decisions", "candidates", "signoff.prepare", "signoff", "attest.prepare", "attest", "queries", "query.open", "query.answer", "query.close", "verify", "replay", "export", "report", "report.snapshot",
                               "export.fhir", "export.odm", "export.sdtm-ie", "audit-trail", "head", "public-key", "checkpoint", "proof.inclusion", "proof.consistency",
                               "user.add", "user.disable", "user.enable", "user.remove", "user.rotate-token", "user.rotate-signer", "users",
                               "model.register", "models", "model.show", "model.score"]
}

/// A model version as it is submitted: the card, and the artifact and extraction settings texts beside it.
public struct ModelSubmission: Sendable, Equatable {
    public let card: JSONValue
    public let artifact: String
    public let settings: String

    public init(card: JSONValue, artifact: String, settings: String) { (self.card, self.artifact, self.settings) = (card, artifact, settings) }
}

/// What an investigator's account registers besides a token: the name their signatures show, their Ed25519 public
/// key (base64 of the raw 32 bytes) and the SHA-256 of their signing code.
public struct SignerRegistration: Sendable, Equatable {
    public let printedName: String
    public let publicKey: String
    public let signingSHA256: String

    public init(printedName: String, publicKey: String, signingSHA256: String) {
        (self.printedName, self.publicKey, self.signingSHA256) = (printedName, publicKey, signingSHA256)
    }
}
