import TrialGateCore

extension ScreeningReport {
    /// The identifier system of the ClinicalTrials.gov registry numbers (`NCT` and eight digits).
    static let clinicalTrialsGovSystem = "https://clinicaltrials.gov"

    /// The FHIR export: the trial's `ResearchStudy` and a `ResearchSubject` per candidate (after the filter) that
    /// refers to it; ids from `FHIRID`, the original ids kept as identifiers.
    /// - Throws: `internal` if two candidates would share an id (it takes an 80-bit SHA-256 collision).
    static func fhir(_ state: LogState, filter: Filter) throws -> FHIRExportReply {
        let trial = state.trial?.trialID ?? "unknown"
        let origin = state.trial?.logOrigin ?? trial
        let study = researchStudy(trial: trial, origin: origin, policy: state.policyInForce)
        let system = "urn:trialgate:\(origin):candidate"
        var seen: [String: String] = [:]
        let subjects = try state.candidates.values.filter(filter.includes).sorted { $0.id < $1.id }.map { c in
            let causes = c.staleCauses(policies: state.policies)
            let confirmed = ScreeningStatus.confirmed(withdrawn: c.isWithdrawn, stale: !causes.isEmpty, signOff: c.latestSignOff)
            let id = FHIRID.of(c.id)
            if let other = seen.updateValue(c.id, forKey: id) {
                throw TrialGateError(.internal, "candidates \"\(other)\" and \"\(c.id)\" map to the same FHIR id \"\(id)\"; nothing was exported")
            }
            // The policy of the latest decision, id@version, so a status always says which rules gave it.
            // FHIR arrays are never empty: a candidate without a decision has no extension.
            let extensions = c.decisions.last.map { d in [
                ResearchSubject.Extension(url: "urn:trialgate:fhir:screening-policy", valueString: d.policyName),
                ResearchSubject.Extension(url: "urn:trialgate:fhir:proposed-outcome", valueCode: d.outcome),
                ResearchSubject.Extension(url: "urn:trialgate:fhir:decision-standing", valueCode: causes.isEmpty ? "current" : "stale"),
            ] }
            return ResearchSubject(
                id: id, identifier: [.init(system: system, value: c.id)],
                status: subjectStatus(withdrawn: c.isWithdrawn, decided: !c.decisions.isEmpty, confirmed: confirmed),
                period: .init(start: c.records[0].timestamp.description, end: c.withdrawal?.timestamp.description),
                study: .init(reference: "ResearchStudy/\(study.id)"),
                individual: .init(identifier: .init(system: system, value: c.id), display: "pseudonymous screening candidate"),
                extension: extensions)
        }
        return FHIRExportReply(study: study, resources: subjects)
    }

    /// A subject's status: withdrawn whatever was decided; eligible or ineligible only once an investigator confirmed
    /// (or overrode) the current decision; any other decision (proposed, needs review, stale) is still screening; no
    /// decision yet, a candidate.
    /// - Parameter confirmed: the outcome an investigator signed for the current decision (`ScreeningStatus.confirmed`).
    static func subjectStatus(withdrawn: Bool, decided: Bool, confirmed: String?) -> ResearchSubject.Status {
        if withdrawn { return .withdrawn }
        switch confirmed {
        case Outcome.eligible.rawValue?: return .eligible
        case Outcome.ineligible.rawValue?: return .ineligible
        default: return decided ? .screening : .candidate
        }
    }

    /// The trial's `ResearchStudy`: titled and numbered by the policy in force when it names a ClinicalTrials.gov
    /// number in its title.
    static func researchStudy(trial: String, origin: String, policy: PublishedPolicy?) -> ResearchStudy {
        // A policy the loader refuses (only a forged log holds one) gives no title: the trial id stands in.
        let title = policy.flatMap { try? PolicyLoader.load($0.text, file: "policy \($0.id)@\($0.version)").title }
        var identifiers = [ResearchSubject.Identifier(system: "urn:trialgate:\(origin):trial", value: trial)]
        identifiers += registryNumbers(in: title ?? "").map { .init(system: clinicalTrialsGovSystem, value: $0) }
        return ResearchStudy(id: FHIRID.of(trial), identifier: identifiers, title: title ?? trial, status: .active)
    }

    /// The ClinicalTrials.gov numbers in `text`, `NCT` and eight digits not run on into more, once each, in order.
    static func registryNumbers(in text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        func isDigit(_ k: Int) -> Bool { k >= 0 && k < s.count && ("0"..."9").contains(s[k]) }
        func isAlphanumeric(_ k: Int) -> Bool { isDigit(k) || (k >= 0 && k < s.count && (("A"..."Z").contains(s[k]) || ("a"..."z").contains(s[k]))) }
        var found: [String] = []
        var i = 0
        while i + 11 <= s.count {
            if !isAlphanumeric(i - 1), s[i] == "N", s[i + 1] == "C", s[i + 2] == "T", (3..<11).allSatisfy({ isDigit(i + $0) }), !isDigit(i + 11) {
                let number = String(String.UnicodeScalarView(s[i..<(i + 11)]))
                if !found.contains(number) { found.append(number) }
                i += 11
            } else {
                i += 1
            }
        }
        return found
    }
}
