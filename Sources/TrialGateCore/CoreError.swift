/// The one error type of the core: a stable machine-readable code and a message a person can act on.
public struct CoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error codes; the CLI maps them to exit codes, the socket sends them as `error.code`.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidJSON = Code(rawValue: "invalid_json")
        public static let invalidField = Code(rawValue: "invalid_field")
        public static let unknownField = Code(rawValue: "unknown_field")
        public static let missingField = Code(rawValue: "missing_field")
        public static let invalidPolicy = Code(rawValue: "invalid_policy")
        public static let invalidEvent = Code(rawValue: "invalid_event")
        public static let unknownCandidate = Code(rawValue: "unknown_candidate")
        public static let duplicateCandidate = Code(rawValue: "duplicate_candidate")
        public static let candidateWithdrawn = Code(rawValue: "candidate_withdrawn")
        public static let noPolicy = Code(rawValue: "no_policy")
        public static let unknownEvent = Code(rawValue: "unknown_event")
        public static let notCorrectable = Code(rawValue: "not_correctable")
    }

    /// What kind of failure this is.
    public let code: Code
    /// What went wrong, in words a user can act on.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func == (a: CoreError, b: CoreError) -> Bool { a.code == b.code }
}
