/// Whether a criterion must hold (inclusion) or must not hold (exclusion).
public enum CriterionKind: String, Sendable {
    case inclusion
    case exclusion
}

/// A comparison operator over a fact.
public enum Comparison: String, Sendable, CaseIterable {
    case eq, ne, lt, lte, gt, gte

    var symbol: String {
        switch self {
        case .eq: "="
        case .ne: "≠"
        case .lt: "<"
        case .lte: "≤"
        case .gt: ">"
        case .gte: "≥"
        }
    }
}

/// A condition over a candidate's current facts, evaluated in three-valued (Kleene) logic.
public indirect enum Condition: Sendable, Equatable {
    /// Every sub-condition holds.
    case all([Condition])
    /// At least one sub-condition holds.
    case any([Condition])
    /// The sub-condition does not hold.
    case not(Condition)
    /// The fact is known (and, with `maxAgeDays`, recent enough).
    case present(fact: String, maxAgeDays: Int?)
    /// The fact compares to a constant; for a quantity, in `unit` (clinical model 2).
    case compare(fact: String, op: Comparison, value: JSONValue, maxAgeDays: Int?, unit: String? = nil)
    /// The fact is one of the listed values.
    case member(fact: String, values: [JSONValue], maxAgeDays: Int?)
    /// The fact is a date no more than `days` before the decision date (and not after it).
    case withinDays(fact: String, days: Int)
    /// The fact is a date no more than `months` calendar months before the decision date (and not after it).
    case withinMonths(fact: String, months: Int)
    /// A criterion no structured fact decides: what the newest `attestation.recorded` for it says.
    case attested(criterion: String)
    /// A model score: at or above `threshold` passes, below fails, inside `[greyLow, greyHigh)` needs review.
    case scoreGate(fact: String, threshold: Double, greyLow: Double, greyHigh: Double, maxAgeDays: Int?)
    /// A registered model's score, computed from the candidate's recorded features (`ModelGate`).
    case model(ModelGate)
}

/// One enrollment criterion: an id, what it means, where it comes from, and its condition.
public struct Criterion: Sendable, Equatable {
    public let id: String
    public let kind: CriterionKind
    public let description: String
    /// The protocol section or registry entry the criterion comes from.
    public let source: String
    public let condition: Condition
    /// Disabled criteria are listed in decisions as `skipped` and do not affect the outcome.
    public let enabled: Bool
    /// For an attestation criterion, what the site attests.
    public let attestation: String?

    public init(id: String, kind: CriterionKind, description: String, source: String, condition: Condition, enabled: Bool,
                attestation: String? = nil) {
        self.id = id
        self.kind = kind
        self.description = description
        self.source = source
        self.condition = condition
        self.enabled = enabled
        self.attestation = attestation
    }
}

/// A versioned set of enrollment criteria.
public struct Policy: Sendable, Equatable {
    public let id: String
    public let version: String
    public let title: String
    public let criteria: [Criterion]
    /// How the candidate's records become facts (`clinical_model`; 1 when the policy does not say).
    public let clinicalModel: ClinicalModel

    public init(id: String, version: String, title: String, criteria: [Criterion], clinicalModel: ClinicalModel = .entryOrder) {
        self.id = id
        self.version = version
        self.title = title
        self.criteria = criteria
        self.clinicalModel = clinicalModel
    }
}

extension Policy {
    /// The criterion ids an `attestation.recorded` may name under this policy: its attestation criteria and every
    /// `attestation.<id>` fact its conditions read.
    public var attestationIDs: Set<String> {
        var ids = Set(criteria.compactMap { $0.attestation == nil ? nil : $0.id })
        func walk(_ c: Condition) {
            switch c {
            case .all(let items), .any(let items): items.forEach(walk)
            case .not(let inner): walk(inner)
            case .present(let fact, _), .compare(let fact, _, _, _, _), .member(let fact, _, _), .withinDays(let fact, _),
                 .withinMonths(let fact, _), .scoreGate(let fact, _, _, _, _):
                if fact.hasPrefix("attestation.") { ids.insert(String(fact.dropFirst("attestation.".count))) }
            case .attested(let id): ids.insert(id)
            case .model: break
            }
        }
        criteria.forEach { walk($0.condition) }
        return ids
    }

    /// The model versions (`id@version`) the policy's gates accept that are not among `models`.
    public func missingModels(_ models: [RegisteredModel]) -> [String] {
        modelGates.flatMap { g in g.versions.filter { v in !models.contains { $0.id == g.model && $0.version == v } }.map { "\(g.model)@\($0)" } }
    }

    /// The model gates of the policy's conditions, in order.
    public var modelGates: [ModelGate] {
        var gates: [ModelGate] = []
        func walk(_ c: Condition) {
            switch c {
            case .all(let items), .any(let items): items.forEach(walk)
            case .not(let inner): walk(inner)
            case .model(let gate): gates.append(gate)
            default: break
            }
        }
        criteria.forEach { walk($0.condition) }
        return gates
    }

    /// Why the policy cannot be published after the models `models` were registered, or nil: every version a model gate
    /// accepts must be registered before the policy, so that no later registration changes what its gates compute, and
    /// a phase a gate names must be one an accepted version was validated on.
    public func modelGateProblem(_ models: [RegisteredModel]) -> String? {
        let missing = missingModels(models)
        if !missing.isEmpty {
            return "its model gate names \(missing.joined(separator: ", ")), which \(missing.count == 1 ? "is" : "are") not registered; register \(missing.count == 1 ? "it" : "them") first (`trialgate model register`)"
        }
        for gate in modelGates {
            // A gate may name the phase only to restate a card's: a model scores features of the phase it was validated on.
            if let phase = gate.contrastPhase {
                let cards = models.filter { m in m.id == gate.model && gate.versions.contains(m.version) }
                if !cards.contains(where: { $0.contrastPhase == phase }) {
                    return "its model gate asks for the \(phase) phase, but no accepted version of \(gate.model) was validated on it (\(cards.map { "\($0.name): \($0.contrastPhase)" }.joined(separator: ", ")))"
                }
            }
        }
        return nil
    }
}
