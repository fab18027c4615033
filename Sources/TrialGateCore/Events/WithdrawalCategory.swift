/// Why a candidate left screening, as a controlled code: the categories a CONSORT flow diagram counts withdrawals by.
///
/// The list follows the CONSORT 2010 flow diagram (Schulz KF, Altman DG, Moher D, for the CONSORT Group. CONSORT 2010
/// Statement: updated guidelines for reporting parallel group randomised trials. BMJ 2010;340:c332, figure 1): its
/// enrolment box counts those excluded as "not meeting inclusion criteria", "declined to participate" and "other
/// reasons"; its follow-up boxes count those "lost to follow-up" and those who "discontinued intervention", giving
/// reasons. The reasons for discontinuing are split as trials usually report them (withdrew consent, adverse event,
/// physician decision, death). The free-text reason stays beside the code; it is required with `other`.
public enum WithdrawalCategory: String, CaseIterable, Sendable, Equatable {
    /// Did not meet an inclusion criterion (or met an exclusion), found outside the policy's evaluation.
    case notMeetingInclusionCriteria = "not_meeting_inclusion_criteria"
    /// Declined to take part before consenting to the trial.
    case declinedToParticipate = "declined_to_participate"
    /// Withdrew consent already given.
    case withdrewConsent = "withdrew_consent"
    /// Could no longer be reached.
    case lostToFollowUp = "lost_to_follow_up"
    case adverseEvent = "adverse_event"
    /// The investigator or treating physician took the candidate out.
    case physicianDecision = "physician_decision"
    case death
    /// Any other reason, which the free text must then give.
    case other

    /// How a report labels the category.
    public var label: String {
        switch self {
        case .notMeetingInclusionCriteria: "Not meeting inclusion criteria"
        case .declinedToParticipate: "Declined to participate"
        case .withdrewConsent: "Withdrew consent"
        case .lostToFollowUp: "Lost to follow-up"
        case .adverseEvent: "Adverse event"
        case .physicianDecision: "Physician decision"
        case .death: "Death"
        case .other: "Other reasons"
        }
    }

    /// The codes, in the order reports list them.
    public static let codes: [String] = allCases.map(\.rawValue)

    /// The category `code` names.
    /// - Parameter field: the field the code came from, for the error (`category`, `--category`).
    /// - Throws: `invalid_field` naming the field, the value and the allowed codes.
    public static func parse(_ code: String, field: String = "category") throws -> WithdrawalCategory {
        guard let c = WithdrawalCategory(rawValue: code) else {
            throw TrialGateError(.invalidField, "\(field) must be one of \(codes.joined(separator: ", ")), got \"\(code)\"")
        }
        return c
    }

    /// The rules a `candidate.withdrawn` payload of event schema 3 keeps beyond its field table: a category or (an event
    /// written before categories existed) a reason, and a reason with `other`.
    /// - Throws: `missing_field` naming the field.
    static func check(_ payload: JSONValue) throws {
        let category = payload["category"]?.stringValue
        let reason = payload["reason"]?.stringValue
        if category == nil, reason == nil {
            throw TrialGateError(.missingField, "candidate.withdrawn: \"category\" is required (one of \(codes.joined(separator: ", ")))")
        }
        if category == WithdrawalCategory.other.rawValue, reason == nil {
            throw TrialGateError(.missingField, "candidate.withdrawn: \"reason\" is required when category is other")
        }
    }
}
