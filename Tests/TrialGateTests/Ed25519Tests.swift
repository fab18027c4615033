import Foundation
import Testing
@testable import TrialGateAudit
import TrialGateCore

@Suite("Ed25519 against published vectors")
struct Ed25519Tests {
    @Test("RFC 8032 §7.1: seed gives the public key and the exact signature")
    func rfc8032() throws {
        let doc = try JSONParser.parse(Array(try fixture("ed25519/rfc8032_ed25519_sec7.1.json")))
        let vectors = doc["vectors"]!.arrayValue!
        #expect(vectors.count == 4)
        for v in vectors {
            let key = try TrialKey(seed: Digest.bytes(hex: v["secret_key_seed"]!.stringValue!)!)
            let message = Digest.bytes(hex: v["message"]!.stringValue!)!
            #expect(Digest.hex(key.publicKey) == v["public_key"]!.stringValue!)
            #expect(Digest.hex(key.sign(message)) == v["signature"]!.stringValue!)
            #expect(SignatureCheck.verify(signature: key.sign(message), message: message, publicKey: key.publicKey))
        }
    }

    @Test("Wycheproof: all 151 verify cases give the expected verdict")
    func wycheproof() throws {
        let doc = try JSONParser.parse(Array(try fixture("ed25519/wycheproof_ed25519_test.json")))
        var count = 0
        var wrong: [Int] = []
        for group in doc["testGroups"]!.arrayValue! {
            let pk = Digest.bytes(hex: group["publicKey"]!["pk"]!.stringValue!)!
            for t in group["tests"]!.arrayValue! {
                count += 1
                let ok = SignatureCheck.verify(signature: Digest.bytes(hex: t["sig"]!.stringValue!) ?? [],
                                               message: Digest.bytes(hex: t["msg"]!.stringValue!)!, publicKey: pk)
                if ok != (t["result"]!.stringValue! == "valid") { wrong.append(t["tcId"]!.intValue!) }
            }
        }
        #expect(count == 151)
        #expect(wrong.isEmpty, "test cases with the wrong verdict: \(wrong)")
    }

    @Test("PEM forms round-trip and use the RFC 8410 prefixes")
    func pem() throws {
        let key = try TrialKey(seed: Array(repeating: 1, count: 32))
        let again = try TrialKey(pem: key.privateKeyPEM)
        #expect(again.publicKey == key.publicKey)
        let body = key.publicKeyPEM.split(separator: "\n").dropFirst().dropLast().joined()
        let der = Array(Data(base64Encoded: String(body))!)
        #expect(Digest.hex(der.prefix(12)) == "302a300506032b6570032100")
        #expect(Array(der.suffix(32)) == key.publicKey)
    }

    @Test("a key file others can read is refused")
    func insecureKeyFile() throws {
        let dir = TempDir()
        let path = dir.path + "/k.pem"
        try TrialKey.generate().write(to: path)
        #expect((try? TrialKey.load(path: path)) != nil)
        chmod(path, 0o644)
        #expect { try TrialKey.load(path: path) } throws: { ($0 as? TrialGateError)?.code.rawValue == "key_insecure" }
    }
}
