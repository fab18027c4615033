import Foundation
import Testing
import TrialGateCore

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The error catalogue (`ErrorCode`) is the one list of errors: the protocol document's table is generated from it,
/// every code in it is raised somewhere, and every code raised is in it (the compiler sees to that).
@Suite struct ErrorCatalogueTests {
    /// The table `docs/protocol.md` must hold under "## Error codes".
    static var table: String {
        var lines = ["| code | exit | when |", "|---|---|---|"]
        for code in ErrorCode.allCases {
            lines.append("| `\(code.rawValue)` | \(code.exitStatus) | \(code.socketOnly ? "socket only: " : "")\(code.when) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func protocolDocumentHoldsTheCatalogue() throws {
        let doc = try String(contentsOfFile: repoRoot + "/docs/protocol.md", encoding: .utf8)
        #expect(doc.contains("## Error codes\n\n" + Self.table),
                "docs/protocol.md's error table is not the catalogue's; replace it with:\n\(Self.table)")
    }

    @Test func everyCodeIsRaisedSomewhere() throws {
        let sources = try FileManager.default.subpathsOfDirectory(atPath: repoRoot + "/Sources").filter { $0.hasSuffix(".swift") && !$0.hasSuffix("ErrorCode.swift") }
            .map { try String(contentsOfFile: repoRoot + "/Sources/" + $0, encoding: .utf8) }.joined()
        for code in ErrorCode.allCases {
            let name = code == .internal ? "internal" : "\(code)"
            #expect(sources.contains("." + name + ",") || sources.contains("." + name + ")") || sources.contains("." + name + " "),
                    "\(code.rawValue) is in the catalogue but nothing raises it")
        }
    }

    @Test(arguments: ErrorCode.allCases) func wireCodeIsSnakeCaseAndExitStatusIsAnError(code: ErrorCode) {
        #expect(code.rawValue.allSatisfy { $0 == "_" || ("a"..."z").contains($0) })
        #expect([2, 3, 4].contains(code.exitStatus))
    }
}
