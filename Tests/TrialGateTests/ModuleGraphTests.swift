import Foundation
import Testing

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// `docs/architecture.md`'s module graph is the one `Package.swift` declares, and its dependencies point one way:
/// from the edges to the pure core.
@Suite struct ModuleGraphTests {
    /// Each target of `Package.swift` with the targets of this package it depends on (products of other packages left out).
    static func declared() throws -> [String: Set<String>] {
        let text = try String(contentsOfFile: repoRoot + "/Package.swift", encoding: .utf8)
        let start = try Regex(#"\.(?:target|executableTarget|testTarget|systemLibrary)\(name: "([^"]+)""#)
        let starts = text.matches(of: start)
        var graph: [String: Set<String>] = [:]
        for (i, match) in starts.enumerated() {
            let name = String(match.output[1].substring ?? "")
            // This target's declaration runs to the next one's start.
            let chunk = text[match.range.upperBound..<(i + 1 < starts.count ? starts[i + 1].range.lowerBound : text.endIndex)]
            var deps: Set<String> = []
            if let open = chunk.range(of: "dependencies: [") {
                // The list, to its matching bracket; within it, bare strings are this package's targets.
                var depth = 1, end = open.upperBound
                while depth > 0, end < chunk.endIndex {
                    if chunk[end] == "[" { depth += 1 } else if chunk[end] == "]" { depth -= 1 }
                    end = chunk.index(after: end)
                }
                let body = String(chunk[open.upperBound..<end]).replacing(try Regex(#"\.product\([^)]*\)"#), with: "")
                for dep in body.matches(of: try Regex(#""([^"]+)""#)) { deps.insert(String(dep.output[1].substring ?? "")) }
            }
            graph[name] = deps
        }
        return graph
    }

    /// The graph as `docs/architecture.md` lists it under "Module graph".
    static func documented() throws -> [String: Set<String>] {
        let doc = try String(contentsOfFile: repoRoot + "/docs/architecture.md", encoding: .utf8)
        guard let start = doc.range(of: "### Module graph\n") else { return [:] }
        var graph: [String: Set<String>] = [:]
        // The list is the section's first run of "- " lines.
        for line in doc[start.upperBound...].split(separator: "\n").drop(while: { !$0.hasPrefix("- ") }).prefix(while: { $0.hasPrefix("- ") }) {
            let parts = line.dropFirst(2).components(separatedBy: " → ")
            let name = parts[0].trimmingCharacters(in: CharacterSet(charactersIn: "` "))
            let deps = parts.count > 1 && parts[1] != "nothing"
                ? Set(parts[1].components(separatedBy: ", ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "` ")) }) : []
            graph[name] = deps
        }
        return graph
    }

    @Test func architectureDocumentListsPackageSwiftsGraph() throws {
        let declared = try Self.declared(), documented = try Self.documented()
        #expect(declared.count >= 10, "Package.swift was not read: \(declared.keys.sorted())")
        #expect(documented == declared, """
            docs/architecture.md's module graph differs from Package.swift; it should read:
            \(declared.keys.sorted().map { "- `\($0)` → " + (declared[$0]!.isEmpty ? "nothing" : declared[$0]!.sorted().map { "`\($0)`" }.joined(separator: ", ")) }.joined(separator: "\n"))
            """)
    }

    /// Layers, from the core out: a target may depend only on targets of its own layer or inner ones.
    @Test func dependenciesPointFromTheEdgesToTheCore() throws {
        let layer: [String: Int] = [
            "CSQLite": 0, "TrialGateCore": 0, "TrialGateAudit": 1, "TrialGateStore": 2, "TrialGatePolicies": 0, "TrialGateModels": 0,
            "TrialGateService": 3, "TrialGateServer": 4, "TrialGateWitness": 4, "trialgate": 5, "trialgate-bench": 5,
            "TrialGateFuzzTargets": 5, "CFuzzDriver": 0, "trialgate-fuzz": 6, "TrialGateTests": 7,
        ]
        for (name, deps) in try Self.declared() {
            let own = try #require(layer[name], "\(name) has no layer here; add it")
            for dep in deps {
                let theirs = try #require(layer[dep], "\(dep) has no layer here; add it")
                #expect(theirs < own || (theirs == own && dep == name), "\(name) (layer \(own)) depends on \(dep) (layer \(theirs))")
            }
        }
        // The pure core depends on no other target of the package.
        #expect(try Self.declared()["TrialGateCore"] == [])
    }
}
