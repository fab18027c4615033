import Foundation
import Testing
@testable import TrialGateAudit
import TrialGateCore

extension MerkleMemoryTree {
    init(leafHashes: [[UInt8]]) {
        self.init()
        for h in leafHashes { append(leafHash: h) }
    }
}

/// A vector's integer; Go's uint64 values beyond Int64 (wrapped "-1" probes) become -1, which every API refuses.
private func i64(_ v: JSONValue?) -> Int64 { v?.intValue.map(Int64.init) ?? -1 }

private func b64(_ v: JSONValue?) -> [UInt8] { v?.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }

private func vectorFiles(_ dir: String) throws -> [(String, JSONValue)] {
    guard let base = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/merkle/" + dir) else { return [] }
    let files = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)!.compactMap { $0 as? URL }
        .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    return try files.map { ($0.path.replacingOccurrences(of: base.path, with: ""), try JSONParser.parse(Array(Data(contentsOf: $0)))) }
}

@Suite("RFC 6962 Merkle tree against published vectors")
struct MerkleTests {
    @Test("the reference tree: leaf hashes, roots for sizes 0 through 8, hasher checks")
    func referenceTree() throws {
        let doc = try JSONParser.parse(Array(try fixture("merkle/rfc6962_reference_tree.json")))
        let leaves = doc["leaves_hex"]!.arrayValue!.map { Digest.bytes(hex: $0.stringValue!)! }
        let hashes = leaves.map { Merkle.leafHash($0) }
        #expect(hashes.map { Digest.hex($0) } == doc["leaf_hashes_hex"]!.arrayValue!.map { $0.stringValue! })
        #expect(Digest.hex(Merkle.emptyRoot) == doc["empty_tree_root"]!.stringValue!)
        let checks = doc["hasher_checks"]!
        #expect(Digest.hex(Merkle.leafHash(Array("L123456".utf8))) == checks["HashLeaf('L123456')"]!.stringValue!)
        #expect(Digest.hex(Merkle.nodeHash(Array("N123".utf8), Array("N456".utf8))) == checks["HashChildren('N123','N456')"]!.stringValue!)
        let roots = doc["roots_by_tree_size"]!.objectValue!
        #expect(roots.count == 8)
        var frontier = MerkleFrontier()
        for (i, h) in hashes.enumerated() {
            frontier.append(leafHash: h)
            let tree = MerkleMemoryTree(leafHashes: Array(hashes[...i]))
            let want = roots[String(i + 1)]!.stringValue!
            #expect(Digest.hex(try Merkle.root(size: Int64(i + 1), tree)) == want)
            #expect(Digest.hex(frontier.root) == want)
        }
    }

    @Test("every proof the tree makes verifies, for all sizes up to 70 and every leaf and pair")
    func generatedProofs() throws {
        let hashes = (0..<70).map { Merkle.leafHash(Array("leaf \($0)".utf8)) }
        let tree = MerkleMemoryTree(leafHashes: hashes)
        for n in Int64(1)...70 {
            let root = try Merkle.root(size: n, tree)
            for i in 0..<n {
                let proof = try Merkle.inclusionProof(index: i, size: n, tree)
                try Merkle.verifyInclusion(index: i, size: n, leafHash: hashes[Int(i)], proof: proof, root: root)
                #expect(throws: MerkleError.self) { try Merkle.verifyInclusion(index: i, size: n, leafHash: hashes[Int((i + 1) % 70)], proof: proof, root: root) }
            }
            for m in Int64(1)...n {
                let proof = try Merkle.consistencyProof(from: m, to: n, tree)
                try Merkle.verifyConsistency(size1: m, size2: n, root1: try Merkle.root(size: m, tree), root2: root, proof: proof)
                if m < n {
                    #expect(throws: MerkleError.self) {
                        try Merkle.verifyConsistency(size1: m, size2: n, root1: try Merkle.root(size: m, tree), root2: try Merkle.root(size: n - 1, tree), proof: proof)
                    }
                }
            }
        }
    }

    @Test("transparency-dev inclusion probes, positive and negative")
    func inclusionVectors() throws {
        let cases = try vectorFiles("inclusion")
        #expect(cases.count >= 90)
        var wrong: [String] = []
        for (name, v) in cases {
            let ok = (try? Merkle.verifyInclusion(index: i64(v["leafIdx"]), size: i64(v["treeSize"]),
                                                  leafHash: b64(v["leafHash"]), proof: v["proof"]?.arrayValue?.map { b64($0) } ?? [],
                                                  root: b64(v["root"]))) != nil
            if ok == v["wantErr"]!.boolValue! { wrong.append(name) }
        }
        #expect(wrong.isEmpty, "wrong verdicts: \(wrong)")
    }

    @Test("transparency-dev consistency probes, positive and negative")
    func consistencyVectors() throws {
        let cases = try vectorFiles("consistency")
        #expect(cases.count >= 90)
        var wrong: [String] = []
        for (name, v) in cases {
            let ok = (try? Merkle.verifyConsistency(size1: i64(v["size1"]), size2: i64(v["size2"]),
                                                    root1: b64(v["root1"]), root2: b64(v["root2"]),
                                                    proof: v["proof"]?.arrayValue?.map { b64($0) } ?? [])) != nil
            if ok == v["wantErr"]!.boolValue! { wrong.append(name) }
        }
        #expect(wrong.isEmpty, "wrong verdicts: \(wrong)")
    }

    @Test("the happy-path inclusion and consistency proofs are exactly the ones this tree generates")
    func generatedEqualsPublished() throws {
        let doc = try JSONParser.parse(Array(try fixture("merkle/rfc6962_reference_tree.json")))
        let tree = MerkleMemoryTree(leafHashes: doc["leaves_hex"]!.arrayValue!.map { Merkle.leafHash(Digest.bytes(hex: $0.stringValue!)!) })
        var compared = 0
        for (name, v) in try vectorFiles("inclusion") where name.hasSuffix("/happy-path.json") {
            let proof = try Merkle.inclusionProof(index: i64(v["leafIdx"]), size: i64(v["treeSize"]), tree)
            #expect(proof == (v["proof"]?.arrayValue ?? []).map { b64($0) }, "\(name)")
            compared += 1
        }
        for (name, v) in try vectorFiles("consistency") where name.hasSuffix("/happy-path.json") {
            let proof = try Merkle.consistencyProof(from: i64(v["size1"]), to: i64(v["size2"]), tree)
            #expect(proof == (v["proof"]?.arrayValue ?? []).map { b64($0) }, "\(name)")
            compared += 1
        }
        #expect(compared >= 8)
    }
}

@Suite("C2SP signed notes and checkpoints against published vectors")
struct SignedNoteTests {
    @Test("the C2SP example note verifies with its vkey")
    func c2spExample() throws {
        let key = try NoteVerifierKey(vkey: try fixtureText("notes/c2sp-signed-note-example.vkey"))
        let (text, by) = try SignedNote.open(try fixtureText("notes/c2sp-signed-note-example.note"), keys: [key])
        #expect(text == "This is an example message.\n")
        #expect(by.map(\.name) == ["example.com/foo"])
    }

    @Test("Go sumdb: the skey signs the text to the exact published note; two signers; unknown keys ignored")
    func goSumdb() throws {
        let keys = try fixtureText("notes/go-sumdb-note.keys").split(separator: "\n").map(String.init)
        let signer = try NoteSigner(skey: keys[1])
        #expect(signer.verifier == (try NoteVerifierKey(vkey: keys[0])))
        let published = try fixtureText("notes/go-sumdb-note-peterneumann.note")
        let (text, _) = try SignedNote.parse(published)
        #expect(try SignedNote.sign(text, by: [signer]) == published)
        let enoch = try NoteVerifierKey(vkey: keys[2])
        let two = try fixtureText("notes/go-sumdb-note-two-signers.note")
        #expect(try SignedNote.open(two, keys: [signer.verifier, enoch]).signedBy.count == 2)
        #expect(try SignedNote.open(two, keys: [enoch]).signedBy.map(\.name) == ["EnochRoot"])
        // No known key at all is a refusal; so is a known key whose signature fails.
        let other = try NoteVerifierKey(vkey: try fixtureText("notes/sum.golang.org.vkey"))
        #expect { try SignedNote.open(two, keys: [other]) } throws: { ($0 as? TrialGateError)?.code.rawValue == "unknown_note_key" }
        let forged = published.replacingOccurrences(of: "answer", with: "ANSWER")
        #expect { try SignedNote.open(forged, keys: [signer.verifier]) } throws: { ($0 as? TrialGateError)?.code.rawValue == "bad_note_signature" }
    }

    @Test("the sum.golang.org production checkpoint opens and parses")
    func sumGolangCheckpoint() throws {
        let key = try NoteVerifierKey(vkey: try fixtureText("notes/sum.golang.org.vkey"))
        let (cp, _) = try Checkpoint.open(try fixtureText("notes/sum.golang.org-checkpoint-6476701.note"), keys: [key])
        #expect(cp.origin == "go.sum database tree")
        #expect(cp.size == 6_476_701)
    }

    @Test("the derived checkpoint of the reference tree: signed exactly, root is the size-8 MTH")
    func derivedCheckpoint() throws {
        let keys = try fixtureText("notes/derived-checkpoint-rfc6962-tree8.keys").split(separator: "\n").map(String.init)
        let signer = try NoteSigner(skey: keys[1])
        let note = try fixtureText("notes/derived-checkpoint-rfc6962-tree8.note")
        let (cp, _) = try Checkpoint.open(note, keys: [try NoteVerifierKey(vkey: keys[0])])
        let doc = try JSONParser.parse(Array(try fixture("merkle/rfc6962_reference_tree.json")))
        let tree = MerkleMemoryTree(leafHashes: doc["leaves_hex"]!.arrayValue!.map { Merkle.leafHash(Digest.bytes(hex: $0.stringValue!)!) })
        #expect(cp == Checkpoint(origin: "Log", size: 8, root: try Merkle.root(size: 8, tree)))
        #expect(try cp.signed(by: [signer]) == note)
    }

    @Test("malformed notes, vkeys and checkpoints are refused with a reason")
    func malformed() throws {
        #expect(throws: TrialGateError.self) { try SignedNote.parse("no blank line\n— a AAAAAAA=\n") }
        #expect(throws: TrialGateError.self) { try SignedNote.parse("text\n\nnot a signature\n") }
        #expect(throws: TrialGateError.self) { try NoteVerifierKey(vkey: "name+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k") }
        #expect(throws: TrialGateError.self) { try Checkpoint(text: "Log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n") }
        #expect(throws: TrialGateError.self) { try Checkpoint(text: "Log\n8\nnot-base64\n") }
        #expect(throws: TrialGateError.self) { try NoteSigner(name: "has space", key: TrialKey.generate()) }
    }
}
