#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A model in the portable format `trialgate.model/1` (`docs/model-evidence.md`), which TrialGate evaluates itself.
///
/// The linear predictor is computed in IEEE 754 binary64, one rounding per operation, in the order the format
/// specifies, with no fused multiply-add (Swift never fuses `a * b + c` unless asked): every machine, and the
/// independent verifier, gets the same bits from the same features. Only the linear predictor decides a gate.
public struct ModelArtifact: Sendable, Equatable {
    /// The format name every artifact carries.
    public static let format = "trialgate.model/1"

    /// One input: its name as the extraction software writes it, and its UCUM unit.
    public struct Feature: Sendable, Equatable, Codable {
        public let name: String
        public let unit: String
    }

    /// A node of a regression tree: a split on one feature (`≤ threshold` goes left), or a leaf.
    public enum Node: Sendable, Equatable {
        case split(feature: Int, threshold: Double, left: Int, right: Int)
        case leaf(Double)
    }

    /// What the model computes.
    public enum Body: Sendable, Equatable {
        /// Standardised logistic regression: `Σ coefficients[i] × (x[i] − means[i]) / scales[i]`, then `+ intercept`.
        case logisticRegression(means: [Double], scales: [Double], coefficients: [Double], intercept: Double)
        /// Gradient-boosted trees: `base`, plus `learningRate × leaf` of each tree in order; with `binary32`, each
        /// feature value is rounded to binary32 before it is compared (as scikit-learn's trees do).
        case gradientBoostedTrees(base: Double, learningRate: Double, binary32: Bool, trees: [[Node]])
    }

    public let features: [Feature]
    public let body: Body

    /// The most features, trees, nodes per tree and nodes in all an artifact may have.
    static let limits = (features: 1000, trees: 10_000, nodesPerTree: 100_000, nodes: 1_000_000)

    /// Reads an artifact's text.
    /// - Throws: `invalid_field` naming the member that is not as the format says.
    public init(text: String) throws {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            throw Self.bad("is not JSON: \(TrialGateError(error).message)")
        }
        try self.init(json: value)
    }

    init(json: JSONValue) throws {
        var r = try ObjectReader(json, context: "artifact")
        let format = try r.string("format")
        guard format == Self.format else { throw Self.bad("format must be \"\(Self.format)\", got \"\(format)\"") }
        let kind = try r.string("kind")
        features = try Self.features(try r.value("features"))
        let n = features.count
        switch kind {
        case "logistic_regression":
            let means = try Self.numbers(try r.value("means"), "means", count: n)
            let scales = try Self.numbers(try r.value("scales"), "scales", count: n)
            if let i = scales.firstIndex(where: { !($0 > 0) }) {
                throw Self.bad("scales[\(i)] must be greater than 0, got \(CanonicalJSON.formatNumber(scales[i]))")
            }
            let coefficients = try Self.numbers(try r.value("coefficients"), "coefficients", count: n)
            let intercept = try Self.number(try r.value("intercept"), "intercept")
            body = .logisticRegression(means: means, scales: scales, coefficients: coefficients, intercept: intercept)
        case "gradient_boosted_trees":
            let base = try Self.number(try r.value("base_score"), "base_score")
            let rate = try Self.number(try r.value("learning_rate"), "learning_rate")
            guard rate > 0 else { throw Self.bad("learning_rate must be greater than 0, got \(CanonicalJSON.formatNumber(rate))") }
            let rounding = try r.string("input_rounding")
            guard rounding == "none" || rounding == "binary32" else {
                throw Self.bad("input_rounding must be \"none\" or \"binary32\", got \"\(rounding)\"")
            }
            body = .gradientBoostedTrees(base: base, learningRate: rate, binary32: rounding == "binary32",
                                         trees: try Self.trees(try r.value("trees"), features: n))
        default:
            throw Self.bad("kind must be \"logistic_regression\" or \"gradient_boosted_trees\", got \"\(kind)\"")
        }
        do { try r.finish() } catch let e as TrialGateError { throw Self.bad(e.message) }
    }

    /// The linear predictor (log-odds) for feature values in the order of `features`.
    /// - Precondition: `x.count == features.count`.
    public func linearPredictor(_ x: [Double]) -> Double {
        precondition(x.count == features.count, "one value per feature")
        switch body {
        case .logisticRegression(let means, let scales, let coefficients, let intercept):
            var s = 0.0
            for i in 0..<x.count {
                let z = (x[i] - means[i]) / scales[i]
                let term = coefficients[i] * z
                s = s + term
            }
            return s + intercept
        case .gradientBoostedTrees(let base, let rate, let binary32, let trees):
            var lp = base
            for nodes in trees {
                var at = 0
                while case .split(let feature, let threshold, let left, let right) = nodes[at] {
                    let v = binary32 ? Double(Float(x[feature])) : x[feature]
                    at = v <= threshold ? left : right
                }
                guard case .leaf(let value) = nodes[at] else { continue }
                let step = rate * value
                lp = lp + step
            }
            return lp
        }
    }

    /// The probability a linear predictor stands for, `1 / (1 + exp(−lp))`: for display and for checking a score
    /// supplied from outside, never for a verdict (`exp` may differ in its last bit between libraries).
    public static func probability(_ lp: Double) -> Double { 1 / (1 + exp(-lp)) }

    /// The linear predictor a probability stands for, `ln(p / (1 − p))`.
    public static func logit(_ p: Double) -> Double { log(p / (1 - p)) }

    private static func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "model artifact: \(why)") }

    private static func number(_ v: JSONValue, _ name: String) throws -> Double {
        guard let n = v.numberValue else { throw bad("\(name) must be a number, not \(v.typeName)") }
        return n
    }

    private static func numbers(_ v: JSONValue, _ name: String, count: Int) throws -> [Double] {
        guard let list = v.arrayValue else { throw bad("\(name) must be a list of numbers, not \(v.typeName)") }
        guard list.count == count else { throw bad("\(name) has \(list.count) values; the model has \(count) features") }
        return try list.enumerated().map { try number($0.element, "\(name)[\($0.offset)]") }
    }

    private static func features(_ v: JSONValue) throws -> [Feature] {
        guard let list = v.arrayValue, (1...limits.features).contains(list.count) else {
            throw bad("features must be a list of 1 to \(limits.features) {\"name\", \"unit\"} objects")
        }
        var seen = Set<String>()
        return try list.enumerated().map { i, item in
            var r = try ObjectReader(item, context: "artifact features[\(i)]")
            let name = try r.string("name"), unit = try r.string("unit")
            try r.finish()
            try FeatureVector.checkName(name, context: "model artifact: features[\(i)]")
            try FeatureVector.checkUnit(unit, context: "model artifact: features[\(i)] (\(name))")
            guard seen.insert(name).inserted else { throw bad("features lists \"\(name)\" twice") }
            return Feature(name: name, unit: unit)
        }
    }

    private static func trees(_ v: JSONValue, features: Int) throws -> [[Node]] {
        guard let list = v.arrayValue, (1...limits.trees).contains(list.count) else {
            throw bad("trees must be a list of 1 to \(limits.trees) trees")
        }
        var total = 0
        return try list.enumerated().map { t, tree in
            var r = try ObjectReader(tree, context: "artifact trees[\(t)]")
            guard let nodes = try r.value("nodes").arrayValue, (1...limits.nodesPerTree).contains(nodes.count) else {
                throw bad("trees[\(t)].nodes must be a list of 1 to \(limits.nodesPerTree) nodes")
            }
            try r.finish()
            total += nodes.count
            if total > limits.nodes { throw bad("the trees have more than \(limits.nodes) nodes in all") }
            return try nodes.enumerated().map { i, node in
                let at = "trees[\(t)].nodes[\(i)]"
                var n = try ObjectReader(node, context: "artifact \(at)")
                if n.has("value") {
                    let value = try number(try n.value("value"), "\(at).value")
                    try n.finish()
                    return .leaf(value)
                }
                let feature = try n.integer("feature"), left = try n.integer("left"), right = try n.integer("right")
                let threshold = try number(try n.value("threshold"), "\(at).threshold")
                try n.finish()
                guard (0..<features).contains(feature) else { throw bad("\(at).feature \(feature) is not a feature index (0 to \(features - 1))") }
                // Children after their parent: no cycles, and every walk ends at a leaf.
                for (side, child) in [("left", left), ("right", right)] where !(i + 1..<nodes.count).contains(child) {
                    throw bad("\(at).\(side) \(child) must name a later node of the same tree (\(i + 1) to \(nodes.count - 1))")
                }
                return .split(feature: feature, threshold: threshold, left: left, right: right)
            }
        }
    }
}
