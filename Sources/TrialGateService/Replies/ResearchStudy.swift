import TrialGateCore

/// A FHIR R4 `ResearchStudy` resource: the trial the exported `ResearchSubject`s are screened for. Its id is the
/// trial id as a FHIR id (`FHIRID`); the trial id itself, and the registry number the policy names, are identifiers.
public struct ResearchStudy: Codable, Sendable, Equatable {
    /// R4 `research-study-status` (a required binding). TrialGate screens for a study that is open, so it says
    /// `active`; the other codes are there for a reader that decodes someone else's export.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case active
        case administrativelyCompleted = "administratively-completed"
        case approved
        case closedToAccrual = "closed-to-accrual"
        case closedToAccrualAndIntervention = "closed-to-accrual-and-intervention"
        case completed
        case disapproved
        case inReview = "in-review"
        case temporarilyClosedToAccrual = "temporarily-closed-to-accrual"
        case temporarilyClosedToAccrualAndIntervention = "temporarily-closed-to-accrual-and-intervention"
        case withdrawn
    }

    public var resourceType = "ResearchStudy"
    public var id: String
    public var identifier: [ResearchSubject.Identifier]
    /// The title of the policy in force (which names the study), or the trial id when no policy is published.
    public var title: String
    public var status: Status
}
