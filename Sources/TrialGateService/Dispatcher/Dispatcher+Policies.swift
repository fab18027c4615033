import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    func checkPolicy(text: String, file: String) throws -> JSONValue {
        let policy = try PolicyLoader.load(text, file: file)
        return [
            "policy": .string(policy.id), "version": .string(policy.version), "title": .string(policy.title),
            "sha256": .string(Digest.sha256Hex(text)),
            "criteria": .array(policy.criteria.map {
                ["id": .string($0.id), "kind": .string($0.kind.rawValue), "enabled": .bool($0.enabled), "description": .string($0.description)]
            }),
        ]
    }

    func testPolicy(policyText: String, policyFile: String, casesText: String, casesFile: String) throws -> JSONValue {
        let policy = try PolicyLoader.load(policyText, file: policyFile)
        let table = try PolicyCaseTable.load(casesText, file: casesFile)
        let results = table.run(policy)
        return [
            "policy": .string(policy.id), "version": .string(policy.version),
            "passed": .number(Double(results.filter(\.passed).count)), "failed": .number(Double(results.filter { !$0.passed }.count)),
            "cases": .array(results.map { r in
                [
                    "name": .string(r.name), "expected": .string(r.expected.rawValue),
                    "got": .from(r.evaluation?.outcome.rawValue), "ok": .bool(r.passed),
                    "failures": .array(r.failures.map { .string($0) }),
                ]
            }),
        ]
    }
}
