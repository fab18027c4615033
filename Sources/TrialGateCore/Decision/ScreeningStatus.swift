/// A candidate's screening status, one definition for every view: `withdrawn`, `pending` (no decision yet),
/// `stale` (the newest decision no longer rests on the current data or policy), or the newest decision's outcome.
public enum ScreeningStatus {
    public static func of(withdrawn: Bool, outcome: String?, stale: Bool) -> String {
        if withdrawn { return "withdrawn" }
        guard let outcome else { return "pending" }
        return stale ? "stale" : outcome
    }

    /// The outcome an investigator confirmed (or reached by override) for a current decision, else nil: only a
    /// signed, current decision counts toward enrolment.
    public static func confirmed(withdrawn: Bool, stale: Bool, signOff: SignOff?) -> String? {
        guard !withdrawn, !stale, let signOff else { return nil }
        return signOff.meaning.outcome.rawValue
    }
}
