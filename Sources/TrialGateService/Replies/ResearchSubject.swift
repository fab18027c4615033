import TrialGateCore

/// A FHIR R4 `ResearchSubject` resource: one screening candidate, pseudonymous, with its status from the
/// research-subject-status value set and, once decided, the policy, proposed outcome and standing of its newest
/// decision as extensions. Its id is the candidate id as a FHIR id (`FHIRID`); the candidate id is its identifier.
public struct ResearchSubject: Codable, Sendable, Equatable {
    /// R4 `research-subject-status` (a required binding). Screening uses `candidate`, `screening`, `eligible`,
    /// `ineligible` and `withdrawn`; the other codes are there for a reader that decodes someone else's export.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case candidate
        case eligible
        case followUp = "follow-up"
        case ineligible
        case notRegistered = "not-registered"
        case offStudy = "off-study"
        case onStudy = "on-study"
        case onStudyIntervention = "on-study-intervention"
        case onStudyObservation = "on-study-observation"
        case pendingOnStudy = "pending-on-study"
        case potentialCandidate = "potential-candidate"
        case screening
        case withdrawn
    }

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
    public var status: Status
    public var period: Period
    public var study: Reference
    public var individual: Individual
    /// FHIR arrays are never empty: a candidate without a decision has no extension.
    @OmittedWhenNil public var `extension`: [Extension]? = nil
}

/// `export.fhir`: the `ResearchStudy` of the trial, then a `ResearchSubject` per candidate, by candidate id, each
/// referring to the study.
public struct FHIRExportReply: ReplyView, Equatable {
    public var study: ResearchStudy
    public var resources: [ResearchSubject]
}
