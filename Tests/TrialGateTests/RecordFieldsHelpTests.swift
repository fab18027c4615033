import Testing
import TrialGateCore

@Suite("record KIND --help: each field's value in words")
struct RecordFieldsHelpTests {
    @Test("every field of every kind a coordinator records says what its value must be, with the allowed values")
    func everyFieldIsDescribed() throws {
        for (kind, type) in EventType.recordKinds {
            let schema = try #require(RecordSchema.of(type, version: Event.currentSchemaVersion), "\(kind)")
            for spec in schema.fields {
                let summary = spec.kind.summary
                #expect(!summary.isEmpty && !spec.meaning.isEmpty, "\(kind).\(spec.name)")
                switch spec.kind {
                case .choice(let words), .choiceList(let words):
                    #expect(words.allSatisfy { summary.contains($0) }, "\(kind).\(spec.name): \(summary)")
                case .quantity(let analyte):
                    #expect(summary.contains(analyte.referenceUnit) && summary.contains(analyte.example), "\(kind).\(spec.name): \(summary)")
                case .organ:
                    #expect(PrimaryOrgan.all.allSatisfy { summary.contains($0.code) })
                default:
                    break
                }
            }
        }
        #expect(FieldKind.number(0...100).summary == "number from 0 to 100")
        #expect(FieldKind.integer(0...5).summary == "whole number from 0 to 5")
    }
}
