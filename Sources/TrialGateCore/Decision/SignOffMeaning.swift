/// What an investigator's signature means (21 CFR 11.50(a)(3)).
public enum SignOffMeaning: String, Sendable, CaseIterable {
    /// The decision says eligible and the investigator confirms it.
    case confirmedEligible = "confirmed_eligible"
    /// The decision says ineligible and the investigator confirms it.
    case confirmedIneligible = "confirmed_ineligible"
    /// The investigator finds the candidate eligible against the decision (a reason is required).
    case overriddenEligible = "overridden_eligible"
    /// The investigator finds the candidate ineligible against the decision (a reason is required).
    case overriddenIneligible = "overridden_ineligible"

    /// The enrolment outcome the signature establishes.
    public var outcome: Outcome {
        switch self {
        case .confirmedEligible, .overriddenEligible: .eligible
        case .confirmedIneligible, .overriddenIneligible: .ineligible
        }
    }

    public var isOverride: Bool { self == .overriddenEligible || self == .overriddenIneligible }

    /// The meaning that confirms or overrides a decision of `proposed` to reach `outcome`.
    public static func of(confirming proposed: Outcome, to outcome: Outcome) -> SignOffMeaning? {
        switch (proposed == outcome, outcome) {
        case (true, .eligible): .confirmedEligible
        case (true, .ineligible): .confirmedIneligible
        case (false, .eligible): .overriddenEligible
        case (false, .ineligible): .overriddenIneligible
        default: nil
        }
    }

    /// The words the signature means, as the statement and every view show them.
    public func sentence(printedName: String, user: String, candidate: String, decisionSeq: Int64, proposed: String) -> String {
        let who = "I, \(printedName) (\(user)),"
        switch self {
        case .confirmedEligible, .confirmedIneligible:
            return "\(who) confirm that candidate \(candidate) is \(outcome.rawValue), as decision \(decisionSeq) proposes."
        case .overriddenEligible, .overriddenIneligible:
            return "\(who) find candidate \(candidate) \(outcome.rawValue), overriding decision \(decisionSeq), which proposes \(proposed), for the reason given."
        }
    }
}
