import Yams

/// A YAML node with its position, so that every loading error can say file and line.
struct YAMLNode {
    let node: Node
    let file: String

    var line: Int { node.mark?.line ?? 0 }

    func error(_ message: String) -> TrialGateError {
        TrialGateError(.invalidPolicy, "\(file):\(line): \(message)")
    }

    /// Parses `text` into its root node.
    /// The deepest nesting a policy may use; real policies use under 10. Deeper input would only make the YAML
    /// library recurse until the stack runs out, so it is refused before parsing.
    static let maxNesting = 64
    /// The largest policy text accepted.
    static let maxBytes = 1 << 20

    static func parse(_ text: String, file: String) throws -> YAMLNode {
        try checkShape(text, file: file)
        do {
            guard let root = try Yams.compose(yaml: text) else {
                throw TrialGateError(.invalidPolicy, "\(file):1: the file is empty")
            }
            return YAMLNode(node: root, file: file)
        } catch let e as YamlError {
            switch e {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw TrialGateError(.invalidPolicy, "\(file):\(mark.line): YAML syntax error: \(problem)")
            default:
                throw TrialGateError(.invalidPolicy, "\(file):1: YAML error: \(e)")
            }
        }
    }

    /// The members of a mapping, in file order; throws unless this node is a mapping.
    func mapping(_ what: String) throws -> YAMLMapping {
        guard case .mapping(let m) = node else { throw error("\(what) must be a mapping (key: value lines)") }
        var entries: [(String, YAMLNode)] = []
        var merged: Set<String> = []
        for (k, v) in m {
            guard case .scalar(let s) = k else { throw YAMLNode(node: k, file: file).error("keys must be plain words") }
            if s.string == "<<" {
                // YAML merge key: take the aliased mapping's entries; keys written here override them.
                for (mk, mv) in try YAMLNode(node: v, file: file).mapping(what).entries where !entries.contains(where: { $0.0 == mk }) {
                    entries.append((mk, mv))
                    merged.insert(mk)
                }
                continue
            }
            if let i = entries.firstIndex(where: { $0.0 == s.string }) {
                guard merged.remove(s.string) != nil else { throw YAMLNode(node: k, file: file).error("\"\(s.string)\" appears twice") }
                entries[i] = (s.string, YAMLNode(node: v, file: file))
                continue
            }
            entries.append((s.string, YAMLNode(node: v, file: file)))
        }
        return YAMLMapping(owner: self, what: what, entries: entries)
    }

    /// The items of a sequence; throws unless this node is a sequence.
    func sequence(_ what: String) throws -> [YAMLNode] {
        guard case .sequence(let s) = node else { throw error("\(what) must be a list") }
        return s.map { YAMLNode(node: $0, file: file) }
    }

    /// The scalar's text, whatever its type.
    func text(_ what: String) throws -> String {
        guard case .scalar(let s) = node else { throw error("\(what) must be a single value") }
        return s.string
    }

    /// A plain YAML scalar as JSON (`true`, `12.5`, `null`); quoted scalars stay strings.
    func json(_ what: String) throws -> JSONValue {
        switch node {
        case .scalar(let s):
            if s.style != .plain { return .string(s.string) }
            switch s.string {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case "null", "~", "": return .null
            default:
                if let n = Double(s.string), n.isFinite, s.string.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true {
                    return .number(n)
                }
                return .string(s.string)
            }
        case .sequence(let items):
            return .array(try items.map { try YAMLNode(node: $0, file: file).json(what) })
        case .mapping:
            let m = try mapping(what)
            var o: [String: JSONValue] = [:]
            for (k, v) in m.entries { o[k] = try v.json("\(what).\(k)") }
            return .object(o)
        }
    }

    func number(_ what: String) throws -> Double {
        guard let n = try json(what).numberValue else { throw error("\(what) must be a number") }
        return n
    }

    func integer(_ what: String) throws -> Int {
        guard let n = try json(what).intValue else { throw error("\(what) must be a whole number") }
        return n
    }
}

/// A YAML mapping read key by key; keys nobody asked for are errors.
struct YAMLMapping {
    let owner: YAMLNode
    let what: String
    let entries: [(String, YAMLNode)]
    private var seen: Set<String> = []

    init(owner: YAMLNode, what: String, entries: [(String, YAMLNode)]) {
        self.owner = owner
        self.what = what
        self.entries = entries
    }

    var keys: [String] { entries.map(\.0) }

    mutating func optional(_ key: String) -> YAMLNode? {
        seen.insert(key)
        return entries.first { $0.0 == key }?.1
    }

    mutating func required(_ key: String) throws -> YAMLNode {
        guard let n = optional(key) else { throw owner.error("\(what) needs \"\(key)\"") }
        return n
    }

    func finish(allowed: [String]) throws {
        for (k, v) in entries where !seen.contains(k) {
            throw v.error("\(what): unknown key \"\(k)\" (allowed: \(allowed.joined(separator: ", ")))")
        }
    }
}

extension YAMLNode {
    /// Refuses text too large or nested too deeply (flow brackets, or block indentation) for a policy.
    static func checkShape(_ text: String, file: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw TrialGateError(.invalidPolicy, "\(file):1: the policy is \(text.utf8.count) bytes; at most \(maxBytes) are accepted")
        }
        var line = 1, depth = 0, indent = 0, atLineStart = true
        var quote: UInt8? = nil
        for b in text.utf8 {
            if b == 0x0A {
                line += 1
                atLineStart = true
                indent = 0
                continue
            }
            if atLineStart {
                if b == 0x20 || b == UInt8(ascii: "-") {
                    indent += 1
                    if indent / 2 > maxNesting {
                        throw TrialGateError(.invalidPolicy, "\(file):\(line): nested deeper than \(maxNesting) levels")
                    }
                    continue
                }
                atLineStart = false
            }
            if let q = quote {
                if b == q { quote = nil }
                continue
            }
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = b
            case UInt8(ascii: "#"): break
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxNesting { throw TrialGateError(.invalidPolicy, "\(file):\(line): nested deeper than \(maxNesting) levels") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
    }
}
