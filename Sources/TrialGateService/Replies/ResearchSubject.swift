import TrialGateCore

/// A FHIR R4 `ResearchSubject` resource: one screening candidate, pseudonymous, with its status from the
/// research-subject-status value set and, once decided, the policy, proposed outcome and standing of its newest
/// decision as extensions.
public struct ResearchSubject: Codable, Sendable, Equatable {
    public struct Identifier: Codable, Sendable, Equatable {
        public var system: String
        public var value: String
    }

    public struct Period: Codable, Sendable, Equatable {
        public var start: String
        @OmittedWhenNil public var end: String? = nil
    }

    public struct Reference: Codable, Sendable, Equatable {
        public var reference: String
    }

    public struct Individual: Codable, Sendable, Equatable {
        public var identifier: Identifier
        public var display: String
    }

    public struct Extension: Codable, Sendable, Equatable {
        public var url: String
        @OmittedWhenNil public var valueString: String? = nil
        @OmittedWhenNil public var valueCode: String? = nil
    }

    public var resourceType = "ResearchSubject"
    public var id: String
    public var identifier: [Identifier]
    public var status: String
    public var period: Period
    public var study: Reference
    public var individual: Individual
    /// FHIR arrays are never empty: a candidate without a decision has no extension.
    @OmittedWhenNil public var `extension`: [Extension]? = nil
}

/// `export.fhir`: a `ResearchSubject` per candidate, by candidate id.
public struct FHIRExportReply: ReplyView, Equatable {
    public var resources: [ResearchSubject]
}
