/// The decision lifecycle: a machine decision is a proposal, current until the data or the policy it rests on
/// changes; an investigator confirms or overrides a current decision with a signed sign-off; review queries track
/// what needs a person's attention. Everything here is folded from events, like the rest of `LogState`.

extension CandidateState {
    /// The newest decision, if any: every earlier one is superseded.
    public var latestDecision: DecisionSummary? { decisions.last }

    /// Why the newest decision is stale (empty: it is current), given the policies published in the log.
    public func staleCauses(policies: [PublishedPolicy]) -> [StaleCause] {
        guard let d = decisions.last else { return [] }
        return changesSinceDecision + StaleCause.policies(after: d.seq, in: policies)
    }

    /// The sign-off of the newest decision, if an investigator signed it.
    public var latestSignOff: SignOff? {
        guard let d = decisions.last else { return nil }
        return signOffs.last { $0.decisionSeq == d.seq }
    }

    /// The query opened by event `seq`, if it is this candidate's.
    public func query(seq: Int64) -> ReviewQuery? { queries.first { $0.seq == seq } }
}

extension CandidateState {
    /// The candidate's status (`ScreeningStatus`).
    public func status(policies: [PublishedPolicy]) -> String {
        ScreeningStatus.of(withdrawn: isWithdrawn, outcome: decisions.last?.outcome, stale: !staleCauses(policies: policies).isEmpty)
    }
}
