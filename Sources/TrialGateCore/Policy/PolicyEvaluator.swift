/// A three-valued verdict on a condition or criterion.
public enum Verdict: String, Sendable {
    case pass, fail, unknown
}

extension CriterionStatus {
    /// A condition's verdict as a criterion's status.
    public init(_ verdict: Verdict) {
        switch verdict {
        case .pass: self = .pass
        case .fail: self = .fail
        case .unknown: self = .unknown
        }
    }
}

/// The screening outcome for a candidate.
public enum Outcome: String, Sendable, CaseIterable {
    /// Every inclusion criterion passes and no exclusion criterion applies.
    case eligible
    /// At least one inclusion criterion fails or one exclusion criterion applies.
    case ineligible
    /// Nothing fails, but something cannot be decided: missing or stale data, or a grey-zone model score.
    case needsReview = "needs_review"
}

/// What one criterion came to: its verdict as an inclusion or exclusion, or why it has none yet.
public enum CriterionStatus: String, Sendable, CaseIterable {
    /// The criterion is met (an exclusion: it does not apply).
    case pass
    /// The criterion is not met (an exclusion: it applies).
    case fail
    /// It cannot be decided yet: missing or stale data, a value that cannot be compared, a grey-zone score.
    case unknown
    /// It waits for an investigator's signed attestation.
    case needsAttestation = "needs_attestation"
    /// The policy version disables it.
    case skipped

    /// Whether the criterion keeps the candidate from being decided (`needs_review`).
    public var isUndecided: Bool { self == .unknown || self == .needsAttestation }
}

/// What one criterion came to, and why.
public struct CriterionResult: Sendable, Equatable {
    public let id: String
    public let kind: CriterionKind
    public let description: String
    public let source: String
    public let result: CriterionStatus
    public let reason: String
    /// The facts looked at, by name.
    public let observed: [String: JSONValue]
    /// The rule, in words (`clinical.ecog ≤ 1`).
    public let threshold: String
    /// Sequence numbers of the events the observed facts come from.
    public let evidence: [Int64]

    /// The JSON form used inside decisions.
    public var json: JSONValue {
        .object([
            "id": .string(id), "kind": .string(kind.rawValue), "description": .string(description), "source": .string(source),
            "result": .string(result.rawValue), "reason": .string(reason), "observed": .object(observed), "threshold": .string(threshold),
            "evidence": .array(evidence.map { .number(Double($0)) }),
        ])
    }
}

/// The outcome and the per-criterion results of evaluating a policy.
public struct Evaluation: Sendable, Equatable {
    public let outcome: Outcome
    public let criteria: [CriterionResult]
}

/// Evaluates policies against facts. Pure: the decision date is an input, like swift-certificates' fixed
/// validation time, so that a replay years later re-derives the same result.
public enum PolicyEvaluator {
    struct Partial {
        var verdict: Verdict
        var reason: String
        var observed: [String: JSONValue] = [:]
        var threshold: String
        var evidence: Set<Int64> = []
        /// Unknown because an attestation was never recorded.
        var awaitsAttestation = false
    }

    /// Evaluates every criterion of `policy` on `facts` as of `date`.
    /// - Parameter models: what model gates read: the registered models and the candidate's features and scores.
    public static func evaluate(_ policy: Policy, facts: [String: Fact], models: ModelEvidence = .none, on date: CivilDate) -> Evaluation {
        var results: [CriterionResult] = []
        var anyFail = false, anyUnknown = false
        for c in policy.criteria {
            // An exclusion's condition describes who is excluded: its requirements read "excluded if", not "needs".
            let p = evaluate(c.condition, facts: facts, date: date, requirement: c.kind == .exclusion ? "excluded if" : "needs", models: models)
            var result: CriterionStatus
            var reason = p.reason
            if !c.enabled {
                result = .skipped
                reason = "criterion disabled in this policy version"
            } else if case .attested = c.condition {
                // An attestation says directly whether the criterion is met, for an exclusion too.
                result = p.awaitsAttestation ? .needsAttestation : CriterionStatus(p.verdict)
            } else if c.kind == .inclusion {
                result = CriterionStatus(p.verdict)
            } else {
                switch p.verdict {
                case .pass: result = .fail; reason = "exclusion applies: " + p.reason
                case .fail: result = .pass; reason = "exclusion does not apply: " + p.reason
                case .unknown: result = .unknown
                }
            }
            if result == .fail { anyFail = true }
            if result.isUndecided { anyUnknown = true }
            results.append(CriterionResult(id: c.id, kind: c.kind, description: c.description, source: c.source, result: result,
                                           reason: reason, observed: p.observed, threshold: p.threshold, evidence: p.evidence.sorted()))
        }
        let outcome: Outcome = anyFail ? .ineligible : (anyUnknown ? .needsReview : .eligible)
        return Evaluation(outcome: outcome, criteria: results)
    }

    /// - Parameter requirement: how a reason words what the condition asks for ("needs", or "excluded if").
    static func evaluate(_ condition: Condition, facts: [String: Fact], date: CivilDate, requirement: String = "needs",
                         models: ModelEvidence = .none) -> Partial {
        switch condition {
        case .all(let items), .any(let items):
            let isAll: Bool = if case .all = condition { true } else { false }
            return combine(items.map { evaluate($0, facts: facts, date: date, requirement: requirement, models: models) }, isAll: isAll)
        case .not(let inner):
            var p = evaluate(inner, facts: facts, date: date, requirement: requirement, models: models)
            p.verdict = p.verdict == .pass ? .fail : (p.verdict == .fail ? .pass : .unknown)
            p.threshold = "not (\(p.threshold))"
            return p
        case .present(let fact, let maxAge):
            let rule = "\(fact) recorded" + (maxAge.map { " within \($0) days" } ?? "")
            guard let f = facts[fact] else { return Partial(verdict: .fail, reason: "\(fact) not recorded", threshold: rule) }
            var p = Partial(verdict: .pass, reason: "\(fact) recorded", observed: [fact: f.value], threshold: rule, evidence: Set(f.evidence))
            if let stale = staleness(fact, f, maxAge, date) { p.verdict = .fail; p.reason = stale }
            return p
        case .compare(let fact, let op, let value, let maxAge, let unit?):
            return compareQuantity(fact, op, value, unit: unit, maxAge: maxAge, facts: facts, date: date, requirement: requirement)
        case .compare(let fact, let op, let value, let maxAge, nil):
            let rule = "\(fact) \(op.symbol) \(display(value))"
            return withFact(fact, facts, maxAge, date, rule) { observed, _ in
                guard let holds = compare(observed, op, value) else {
                    return (.unknown, "\(fact) is \(display(observed)), which cannot be compared with \(display(value))")
                }
                return (holds ? .pass : .fail, "\(fact) is \(display(observed)) (\(requirement) \(op.symbol) \(display(value)))")
            }
        case .member(let fact, let values, let maxAge):
            let rule = "\(fact) in [\(values.map(display).joined(separator: ", "))]"
            return withFact(fact, facts, maxAge, date, rule) { observed, _ in
                (values.contains(observed) ? .pass : .fail, "\(fact) is \(display(observed)) (\(requirement) one of \(values.map(display).joined(separator: ", ")))")
            }
        case .withinDays(let fact, let days):
            let rule = "\(fact) within \(days) days before the decision"
            return withFact(fact, facts, nil, date, rule) { observed, _ in
                guard let s = observed.stringValue, let d = CivilDate(s) else { return (.unknown, "\(fact) is not a date") }
                let age = date.daysSinceEpoch - d.daysSinceEpoch
                if age < 0 { return (.fail, "\(fact) \(s) is after the decision date \(date)") }
                return (age <= days ? .pass : .fail, "\(fact) \(s) is \(age) days before the decision (limit \(days))")
            }
        case .withinMonths(let fact, let months):
            let rule = "\(fact) within \(months) months before the decision"
            return withFact(fact, facts, nil, date, rule) { observed, _ in
                guard let s = observed.stringValue, let d = CivilDate(s) else { return (.unknown, "\(fact) is not a date") }
                if d > date { return (.fail, "\(fact) \(s) is after the decision date \(date)") }
                let earliest = date.months(before: months)
                return (d >= earliest ? .pass : .fail, "\(fact) \(s) (\(requirement) \(earliest) or later: \(months) months before \(date))")
            }
        case .attested(let criterion):
            return attested(criterion, facts: facts)
        case .scoreGate(let fact, let threshold, let low, let high, let maxAge):
            return scoreGate(fact, threshold: threshold, low: low, high: high, maxAge: maxAge, facts: facts, date: date)
        case .model(let gate):
            return modelGate(gate, models, date: date)
        }
    }

    /// An `all` (`isAll`) or `any` of the parts' verdicts, explained by the parts that decided it.
    private static func combine(_ parts: [Partial], isAll: Bool) -> Partial {
        let verdict: Verdict
        if isAll {
            verdict = parts.contains { $0.verdict == .fail } ? .fail : (parts.contains { $0.verdict == .unknown } ? .unknown : .pass)
        } else {
            verdict = parts.contains { $0.verdict == .pass } ? .pass : (parts.contains { $0.verdict == .unknown } ? .unknown : .fail)
        }
        // Explain with the parts that decided the verdict.
        let deciding = parts.filter { $0.verdict == verdict }
        var p = Partial(verdict: verdict, reason: (deciding.isEmpty ? parts : deciding).map(\.reason).joined(separator: "; "),
                        threshold: (isAll ? "all of (" : "any of (") + parts.map(\.threshold).joined(separator: "; ") + ")")
        for part in parts {
            p.observed.merge(part.observed) { a, _ in a }
            p.evidence.formUnion(part.evidence)
        }
        return p
    }

    /// A comparison of a quantity with a value in `unit`, converting the fact's own unit.
    private static func compareQuantity(_ fact: String, _ op: Comparison, _ value: JSONValue, unit: String, maxAge: Int?,
                                        facts: [String: Fact], date: CivilDate, requirement: String) -> Partial {
        let rule = "\(fact) \(op.symbol) \(display(value)) \(unit)"
        return withFact(fact, facts, maxAge, date, rule) { observed, f in
            let shown = f.display
            guard let analyte = PolicyLoader.analyte(ofFact: fact), let v = f.value.numberValue, let from = f.unit,
                let converted = analyte.convert(v, from: from, to: unit)
            else {
                return (.unknown, "\(fact) is \(shown), which cannot be compared with \(display(value)) \(unit)")
            }
            let holds = compare(.number(converted), op, value) ?? false
            let was = from == unit ? shown : "\(shown) = \(CanonicalJSON.formatNumber(converted)) \(unit)"
            return (holds ? .pass : .fail, "\(fact) is \(was) (\(requirement) \(op.symbol) \(display(value)) \(unit))")
        }
    }

    /// What the site attested for `criterion`, or unknown (awaiting an attestation) when nothing was recorded.
    private static func attested(_ criterion: String, facts: [String: Fact]) -> Partial {
        let name = "attestation.\(criterion)"
        let rule = "attested by the site"
        guard let f = facts[name], let result = f.value.stringValue, let verdict = Verdict(rawValue: result) else {
            var p = Partial(verdict: .unknown, reason: "no attestation recorded; record one with `record attestation` (criterion=\(criterion))", threshold: rule)
            p.awaitsAttestation = true
            return p
        }
        return Partial(verdict: verdict, reason: "attested \(result) on \(f.observedOn?.description ?? "?") (event \(f.evidence.first ?? 0))",
                       observed: [name: f.value], threshold: rule, evidence: Set(f.evidence))
    }

    /// A model score against its threshold, unknown inside the grey zone `[low, high)`.
    private static func scoreGate(_ fact: String, threshold: Double, low: Double, high: Double, maxAge: Int?,
                                  facts: [String: Fact], date: CivilDate) -> Partial {
        let t = CanonicalJSON.formatNumber(threshold)
        let rule = low < high
            ? "\(fact) ≥ \(t), grey zone [\(CanonicalJSON.formatNumber(low)), \(CanonicalJSON.formatNumber(high)))"
            : "\(fact) ≥ \(t)"
        return withFact(fact, facts, maxAge, date, rule) { observed, _ in
            guard let v = observed.numberValue else { return (.unknown, "\(fact) is not a number") }
            let shown = CanonicalJSON.formatNumber(v)
            if v >= low && v < high { return (.unknown, "\(fact) \(shown) is in the grey zone; needs review") }
            return (v >= threshold ? .pass : .fail, "\(fact) is \(shown) (threshold \(t))")
        }
    }

    private static func withFact(_ name: String, _ facts: [String: Fact], _ maxAge: Int?, _ date: CivilDate, _ rule: String,
                                 _ test: (JSONValue, Fact) -> (Verdict, String)) -> Partial {
        guard let f = facts[name] else {
            return Partial(verdict: .unknown, reason: "\(name) not recorded", threshold: rule)
        }
        // A quantity is shown with its unit, as entered.
        var p = Partial(verdict: .unknown, reason: "", observed: [name: f.unit == nil ? f.value : .string(f.display)], threshold: rule,
                        evidence: Set(f.evidence))
        if let stale = staleness(name, f, maxAge, date) {
            p.reason = stale
            return p
        }
        (p.verdict, p.reason) = test(f.value, f)
        return p
    }

    private static func staleness(_ name: String, _ f: Fact, _ maxAge: Int?, _ date: CivilDate) -> String? {
        guard let maxAge, let on = f.observedOn else { return nil }
        let age = date.daysSinceEpoch - on.daysSinceEpoch
        return age > maxAge ? "\(name) observed \(on) is \(age) days old (limit \(maxAge)); needs a newer value" : nil
    }

    private static func compare(_ a: JSONValue, _ op: Comparison, _ b: JSONValue) -> Bool? {
        switch op {
        case .eq: return a == b
        case .ne: return a != b
        default:
            guard let x = a.numberValue, let y = b.numberValue else { return nil }
            switch op {
            case .lt: return x < y
            case .lte: return x <= y
            case .gt: return x > y
            default: return x >= y
            }
        }
    }

    static func display(_ v: JSONValue) -> String {
        if case .string(let s) = v { return s }
        return CanonicalJSON.string(v)
    }
}
