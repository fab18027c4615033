import Foundation
import TrialGateCore

/// The PDF of a report: its HTML page printed by headless Chromium (`--print-to-pdf`), so the PDF holds the same
/// content as the page. The page has no scripts and no external resources, and Chromium runs without network access
/// to anything but the one local file.
enum ReportPDF {
    /// The names Chromium is installed under (Debian's `chromium`, Ubuntu's `chromium-browser`, Google's builds).
    static let candidates = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]

    /// The Chromium to print with: `TRIALGATE_CHROMIUM` if set, else the first of `candidates` on `PATH`.
    /// - Throws: `pdf_renderer` saying how to install it.
    static func chromium(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let given = environment["TRIALGATE_CHROMIUM"], !given.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                throw TrialGateError(.pdfRenderer, "TRIALGATE_CHROMIUM is \"\(given)\", which is not an executable file")
            }
            return given
        }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in candidates {
            for dir in path where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        }
        throw TrialGateError(.pdfRenderer, "--format pdf prints the HTML report with headless Chromium, and none was found on PATH (looked for "
                             + candidates.joined(separator: ", ") + "); install it (Debian: apt-get install chromium) or set TRIALGATE_CHROMIUM"
                             + " to its path; `--format html` needs no Chromium")
    }

    /// Writes `html` as a PDF to `out` (which must not exist).
    /// - Throws: `file_exists`, `file_unwritable` or `pdf_renderer`.
    static func write(html: String, to out: String) throws {
        if FileManager.default.fileExists(atPath: out) {
            throw TrialGateError(.fileExists, "--out \(out) already exists; choose another path")
        }
        let browser = try chromium()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("trialgate-report-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: work, withIntermediateDirectories: false) } catch {
            throw TrialGateError(.fileUnwritable, "cannot make a working directory \(work.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: work) }
        let page = work.appendingPathComponent("report.html"), pdf = work.appendingPathComponent("report.pdf")
        do { try Data(html.utf8).write(to: page) } catch {
            throw TrialGateError(.fileUnwritable, "cannot write \(page.path): \(error.localizedDescription)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. The page is our own, with no scripts.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
                             "--user-data-dir=\(work.appendingPathComponent("profile").path)", "--no-pdf-header-footer",
                             "--print-to-pdf=\(pdf.path)", page.absoluteString]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TrialGateError(.pdfRenderer, "cannot start \(browser): \(error.localizedDescription)")
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let bytes = FileManager.default.contents(atPath: pdf.path), bytes.starts(with: Array("%PDF-".utf8)) else {
            let said = String(decoding: stderr, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw TrialGateError(.pdfRenderer, "\(browser) did not print the report (exit \(process.terminationStatus)): \(said)")
        }
        do { try bytes.write(to: URL(fileURLWithPath: out), options: .withoutOverwriting) } catch {
            throw TrialGateError(.fileUnwritable, "cannot write \(out): \(error.localizedDescription)")
        }
    }
}
