/// The primary organ of a tumour, as an ICD-O-3 topography code (WHO, International Classification of Diseases
/// for Oncology, 3rd edition, topography axis, which follows the C00–C80 codes of ICD-10 chapter II).
///
/// TrialGate accepts the codes of the sites where neuroendocrine tumours arise (the digestive tract, pancreas,
/// lung, thymus, and the other sites listed here) and C80.9, unknown primary. A code outside this list is
/// refused; the list is in `docs/clinical-criteria.md`.
public struct PrimaryOrgan: Sendable, Equatable {
    public let code: String
    public let name: String

    /// How a well-differentiated NET of this organ is graded, as the SANET registered text says: lung and
    /// thymus by the thoracic rule, every other and an unknown origin by the GI-NET rule.
    public var gradingRule: GradingRule { code.hasPrefix("C34.") || code == "C37.9" ? .thoracic : .gastrointestinal }

    /// Pancreatic (C25.x) or extrapancreatic: the SANET-p / SANET-ep split.
    public var site: String { code.hasPrefix("C25.") ? "pancreatic" : "extrapancreatic" }

    /// The organ with this code, if TrialGate knows it.
    public static func named(_ code: String) -> PrimaryOrgan? { all.first { $0.code == code } }

    public static let all: [PrimaryOrgan] = [
        ("C15.9", "oesophagus"),
        ("C16.0", "stomach, cardia"), ("C16.1", "stomach, fundus"), ("C16.2", "stomach, body"), ("C16.3", "stomach, antrum"),
        ("C16.4", "pylorus"), ("C16.9", "stomach"),
        ("C17.0", "duodenum"), ("C17.1", "jejunum"), ("C17.2", "ileum"), ("C17.3", "Meckel diverticulum"), ("C17.9", "small intestine"),
        ("C18.0", "caecum"), ("C18.1", "appendix"), ("C18.2", "ascending colon"), ("C18.3", "hepatic flexure of colon"),
        ("C18.4", "transverse colon"), ("C18.5", "splenic flexure of colon"), ("C18.6", "descending colon"), ("C18.7", "sigmoid colon"),
        ("C18.9", "colon"), ("C19.9", "rectosigmoid junction"), ("C20.9", "rectum"), ("C21.1", "anal canal"),
        ("C22.0", "liver"), ("C22.1", "intrahepatic bile duct"), ("C23.9", "gallbladder"), ("C24.0", "extrahepatic bile duct"),
        ("C24.1", "ampulla of Vater"),
        ("C25.0", "head of pancreas"), ("C25.1", "body of pancreas"), ("C25.2", "tail of pancreas"), ("C25.3", "pancreatic duct"),
        ("C25.4", "islets of Langerhans"), ("C25.7", "other specified parts of pancreas"), ("C25.8", "overlapping lesion of pancreas"),
        ("C25.9", "pancreas"),
        ("C34.0", "main bronchus"), ("C34.1", "upper lobe, lung"), ("C34.2", "middle lobe, lung"), ("C34.3", "lower lobe, lung"),
        ("C34.8", "overlapping lesion of lung"), ("C34.9", "lung"),
        ("C37.9", "thymus"),
        ("C50.9", "breast"), ("C56.9", "ovary"), ("C62.9", "testis"), ("C64.9", "kidney"), ("C67.9", "bladder"), ("C73.9", "thyroid gland"),
        ("C80.9", "unknown primary site"),
    ].map { PrimaryOrgan(code: $0.0, name: $0.1) }
}

/// Which grading rule applies to a NET.
public enum GradingRule: String, Sendable {
    /// Digestive tract, pancreas, other and unknown origins.
    case gastrointestinal
    /// Lung and thymus.
    case thoracic
}

/// Grading of well-differentiated neuroendocrine tumours.
///
/// As registered for SANET-ep (NCT02588170) and SANET-p (NCT02589821), inclusion 3:
/// - GI rule: G1 < 2 mitoses / 10 HPF and/or Ki-67 < 3 %; G2 2–20 / 10 HPF and/or Ki-67 3–20 %; above either,
///   G3 (WHO 2019, digestive system: mitoses > 20 / 2 mm² or Ki-67 > 20 %).
/// - Thoracic rule (lung, thymus): G1 < 2 mitoses / 10 HPF and no necrosis; G2 2–10 / 10 HPF and/or foci of
///   necrosis; more than 10 is not a G1 or G2 carcinoid (WHO thoracic tumours: > 10 mitoses / 2 mm² is a
///   high-grade neuroendocrine carcinoma), written here as G3. Ki-67 does not grade a thoracic NET.
/// - When the two measures give different grades, the higher one wins.
/// 10 HPF are counted as 2 mm² (WHO 2019); a count over fields of another area is scaled to 2 mm².
public enum NETGrade {
    /// The grade implied by a Ki-67 index in percent (GI rule).
    public static func fromKi67(_ percent: Double) -> Int {
        percent < 3 ? 1 : (percent <= 20 ? 2 : 3)
    }

    /// The grade implied by a mitotic count per 2 mm² (GI rule).
    public static func fromMitoses(_ count: Double) -> Int {
        count < 2 ? 1 : (count <= 20 ? 2 : 3)
    }

    /// The grade implied by a mitotic count per 2 mm² and the necrosis finding (thoracic rule); nil when the
    /// count alone cannot tell G1 from G2 and necrosis was not recorded.
    public static func thoracic(mitoses: Double, necrosis: Bool?) -> Int? {
        if mitoses > 10 { return 3 }
        if mitoses >= 2 { return 2 }
        guard let necrosis else { return nil }
        return necrosis ? 2 : 1
    }
}
