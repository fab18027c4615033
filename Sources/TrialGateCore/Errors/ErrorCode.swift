/// Every error TrialGate reports, in one catalogue: the wire code a socket client reads in `error.code`, the exit
/// status of the command line, and when it happens. `docs/protocol.md`'s error table is this catalogue
/// (`ErrorCatalogueTests` checks it).
///
/// Exit statuses: 2 bad input or a refusal, 3 the store, the key or the log cannot be used, 4 a bug. (1 is not an
/// error: a check that ran and failed, such as `verify`, `replay` or `policy test`.)
public enum ErrorCode: String, CaseIterable, Sendable {
    // Requests
    case invalidJSON = "invalid_json"
    case badRequest = "bad_request"
    case missingField = "missing_field"
    case unknownField = "unknown_field"
    case invalidField = "invalid_field"
    // Candidates and records
    case unknownCandidate = "unknown_candidate"
    case duplicateCandidate = "duplicate_candidate"
    case candidateWithdrawn = "candidate_withdrawn"
    case unknownEvent = "unknown_event"
    case notCorrectable = "not_correctable"
    case invalidEvent = "invalid_event"
    case importRefused = "import_refused"
    // Policies
    case noPolicy = "no_policy"
    case invalidPolicy = "invalid_policy"
    case alreadyPublished = "already_published"
    case versionReused = "version_reused"
    // The trial and its log
    case notInitialised = "not_initialised"
    case alreadyInitialised = "already_initialised"
    case emptyLog = "empty_log"
    case logUncovered = "log_uncovered"
    case unknownCheckpoint = "unknown_checkpoint"
    case snapshotOlderFormat = "snapshot_older_format"
    // Keys, notes and checkpoints
    case keyNotInForce = "key_not_in_force"
    case keyChainInvalid = "key_chain_invalid"
    case keyInsecure = "key_insecure"
    case keyUnreadable = "key_unreadable"
    case keyUnwritable = "key_unwritable"
    case keyExists = "key_exists"
    case badKey = "bad_key"
    case badKeyName = "bad_key_name"
    case badSKey = "bad_skey"
    case badVKey = "bad_vkey"
    case badNote = "bad_note"
    case badNoteSignature = "bad_note_signature"
    case unknownNoteKey = "unknown_note_key"
    case badCheckpoint = "bad_checkpoint"
    /// A witness refused a checkpoint the log submitted (tlog-witness 400, 403, 404, 409, 422).
    case witnessRefused = "witness_refused"
    case badSnapshot = "bad_snapshot"
    // Signatures of people (21 CFR 11.200)
    case notSignable = "not_signable"
    case signingComponents = "signing_components"
    case signingFailed = "signing_failed"
    case signingLocked = "signing_locked"
    case badSignature = "bad_signature"
    // Accounts and access
    case unknownUser = "unknown_user"
    case usersFile = "users_file"
    case unauthenticated = "unauthenticated"
    case authFailed = "auth_failed"
    case rateLimited = "rate_limited"
    case forbidden = "forbidden"
    case revoked = "revoked"
    // Connections
    case lineTooLong = "line_too_long"
    case tooManyConnections = "too_many_connections"
    case tooManyErrors = "too_many_errors"
    case authTimeout = "auth_timeout"
    case idleTimeout = "idle_timeout"
    case shuttingDown = "shutting_down"
    case connectFailed = "connect_failed"
    case connectionLost = "connection_lost"
    case listenFailed = "listen_failed"
    case insecureListen = "insecure_listen"
    case tlsConfig = "tls_config"
    // Files
    case fileUnreadable = "file_unreadable"
    case fileUnwritable = "file_unwritable"
    case fileExists = "file_exists"
    /// The command line cannot make a report's PDF: headless Chromium is not installed, or it failed.
    case pdfRenderer = "pdf_renderer"
    // The store
    case noStore = "no_store"
    case storeMissing = "store_missing"
    case storeExists = "store_exists"
    case storeCorrupt = "store_corrupt"
    case storeVersion = "store_version"
    case storeReplaced = "store_replaced"
    case storeChain = "store_chain"
    case storeConstraint = "store_constraint"
    case storeBusy = "store_busy"
    case storeFull = "store_full"
    case storeReadonly = "store_readonly"
    case notLeader = "not_leader"
    case storeIO = "store_io"
    // Bugs
    case `internal` = "internal"

    /// The command line's exit status for this error.
    public var exitStatus: Int32 {
        switch self {
        case .notInitialised, .logUncovered, .keyNotInForce, .keyChainInvalid, .keyInsecure, .keyUnreadable, .keyUnwritable,
             .keyExists, .noStore, .storeMissing, .storeExists, .storeCorrupt, .storeVersion, .storeReplaced, .storeChain,
             .storeConstraint, .storeBusy, .storeFull, .storeReadonly, .notLeader, .storeIO:
            3
        case .internal: 4
        default: 2
        }
    }

    /// Only a served connection meets this error (the command line never does).
    public var socketOnly: Bool {
        switch self {
        case .unauthenticated, .authFailed, .rateLimited, .revoked, .lineTooLong, .tooManyConnections, .tooManyErrors,
             .authTimeout, .idleTimeout, .shuttingDown, .signingLocked:
            true
        default: false
        }
    }

    /// When the error happens, as the protocol documentation says it.
    // Longer than a function should be, on purpose: one line per code in one exhaustive switch, so that the compiler
    // refuses a new code without its description, and the catalogue reads as the table it is.
    public var when: String {
        switch self {
        case .invalidJSON: "the line is not valid JSON or UTF-8"
        case .badRequest: "unknown `cmd`, or a request that is not what the command takes"
        case .missingField: "a field the command needs is absent (the message names it)"
        case .unknownField: "a field the command does not take, or an `actor` (the actor is always the caller)"
        case .invalidField: "a field's value is of the wrong type, out of range or in a unit not accepted (the message names the field, the value and what was expected)"
        case .unknownCandidate: "no candidate of that id is registered (at that point of the log)"
        case .duplicateCandidate: "the candidate is registered already"
        case .candidateWithdrawn: "the candidate was withdrawn; nothing more is recorded or decided"
        case .unknownEvent: "a sequence number names no event of the kind the command needs (a record, a decision, a query)"
        case .notCorrectable: "a correction names an event or a field that cannot be corrected"
        case .invalidEvent: "the event breaks a rule of the log (the message names the rule)"
        case .importRefused: "an import file has problems, each listed by row and column with the value and what was expected; nothing of it was written"
        case .noPolicy: "no policy is in force"
        case .invalidPolicy: "a policy or its test cases do not load (the message gives `file:line`)"
        case .alreadyPublished: "this exact policy text is published already"
        case .versionReused: "a different text was published under this policy id and version"
        case .notInitialised: "the store has no trial yet (`trialgate init`)"
        case .alreadyInitialised: "the store has a trial already"
        case .emptyLog: "the log has no events to show or sign"
        case .logUncovered: "every write and `report.snapshot` are refused: the log's head is not exactly what the newest checkpoint signed by the key in force covers; the message names the first such event and says to run `trialgate verify`"
        case .unknownCheckpoint: "no checkpoint of that size was issued (or none yet)"
        case .snapshotOlderFormat: "a report snapshot of an earlier format: reports fold past it"
        case .keyNotInForce: "the signing key given is not the trial's key in force; the message names the key in force and says to pass it with `--key FILE` or `TRIALGATE_KEY=FILE`"
        case .keyChainInvalid: "every write is refused: a `key.rotated` event's signatures do not verify, so the key in force is unknown; the message names the event"
        case .keyInsecure: "the signing key file is readable by others"
        case .keyUnreadable: "the signing key file cannot be read"
        case .keyUnwritable: "the signing key file cannot be written"
        case .keyExists: "a key file is there already and is never overwritten"
        case .badKey: "a key is not a 32-byte Ed25519 key"
        case .badKeyName: "a signed-note key name is not valid (C2SP signed-note)"
        case .badSKey: "a signed-note signer key is malformed"
        case .badVKey: "a signed-note verifier key is malformed"
        case .badNote: "a signed note is malformed"
        case .badNoteSignature: "a signed note's signature does not verify"
        case .witnessRefused: "a witness refused the log's checkpoint (its HTTP status and answer are in the message: 422 or a 409 beyond the log means the log is not what the witness saw)"
        case .unknownNoteKey: "a signed note is not signed by any key given"
        case .badCheckpoint: "a checkpoint note is malformed or does not match the log"
        case .badSnapshot: "a report snapshot does not match the log or its signature"
        case .notSignable: "a sign-off of a decision that is superseded, stale or already signed off, of a meaning that does not fit it, or whose statement does not name the decision's exact bytes"
        case .signingComponents: "the first signing of a socket session (or any signing on the command line) without the account name (`user`)"
        case .signingFailed: "the signing code is not the signer's"
        case .signingLocked: "the session gave wrong signature components 3 times and may not sign again (authenticate anew), or the account did 5 times within 15 minutes and may not sign until the window has passed; every refused signing is logged at warning level"
        case .badSignature: "the investigator's signature does not verify with the key their account registers"
        case .unknownUser: "no account of that name"
        case .usersFile: "`serve`: an earlier release's users file lists accounts that are not in the log (`trialgate users import FILE`)"
        case .unauthenticated: "a request before a successful `auth`"
        case .authFailed: "unknown token"
        case .rateLimited: "too many failed authentications from one source; the connection is closed"
        case .forbidden: "the caller's role or sites do not allow the command"
        case .revoked: "the session's account was disabled, removed or expired, or its token replaced, since it authenticated; the connection is closed"
        case .lineTooLong: "a request line longer than the limit; it is dropped and the connection goes on"
        case .tooManyConnections: "the server is at its connection limit, or closed an unauthenticated connection to make room"
        case .tooManyErrors: "too many failed requests before authenticating; the connection is closed"
        case .authTimeout: "no successful `auth` in time after connecting; the connection is closed"
        case .idleTimeout: "no complete request for the idle timeout; the connection is closed"
        case .shuttingDown: "the server is shutting down; the request was not run"
        case .connectFailed: "the command line cannot reach the server"
        case .connectionLost: "the server closed the connection before replying"
        case .listenFailed: "`serve` cannot listen on the address given"
        case .insecureListen: "`serve` refuses plain TCP on an address reachable beyond this machine"
        case .tlsConfig: "`serve` cannot load the TLS certificate or key"
        case .fileUnreadable: "an input file cannot be read or is not UTF-8 text"
        case .fileUnwritable: "an output file cannot be written"
        case .pdfRenderer: "`report --format pdf` finds no headless Chromium to print the page with, or Chromium fails"
        case .fileExists: "an output file is there already and is never overwritten"
        case .noStore: "the command needs a store (`--store PATH`)"
        case .storeMissing: "no store at the path given"
        case .storeExists: "`init` on a path that holds a store already"
        case .storeCorrupt: "the store is damaged, or is not a TrialGate store"
        case .storeVersion: "the store was written by a newer release"
        case .storeReplaced: "the store file was replaced under a running server"
        case .storeChain: "a stored event does not chain on the one before"
        case .storeConstraint: "the store refused a row (its schema's own rules)"
        case .storeBusy: "another process holds the store's write lock too long"
        case .storeFull: "the disk holding the store is full; nothing was written"
        case .storeReadonly: "the store is read-only; nothing was written"
        case .notLeader: "another node holds the trial's writer lease; write there (the message names it); nothing was written"
        case .storeIO: "the disk failed while reading or writing the store"
        case .internal: "a bug: please report it"
        }
    }
}

/// The one error type of TrialGate: a code from the catalogue and a message a person can act on (naming the
/// field, the value and what was expected, where there is one).
public struct TrialGateError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Any error as TrialGate reports it: its own errors as they are, anything else as `internal`.
    public init(_ error: any Error) {
        self = (error as? TrialGateError) ?? TrialGateError(.internal, "\(error)")
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The JSON form of the error inside a reply: `{"code", "message"}`.
    public var json: JSONValue { ["code": .string(code.rawValue), "message": .string(message)] }

    /// Errors are equal when their codes are: the message is for people.
    public static func == (a: TrialGateError, b: TrialGateError) -> Bool { a.code == b.code }
}
