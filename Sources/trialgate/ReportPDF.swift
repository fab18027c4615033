import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TrialGateCore
import TrialGateService

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

    /// How long Chromium may take to print, in seconds: `TRIALGATE_PDF_TIMEOUT` if set (1…3600), else 120.
    static func timeout(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        guard let given = environment["TRIALGATE_PDF_TIMEOUT"], !given.isEmpty else { return 120 }
        guard let seconds = Int(given), (1...3600).contains(seconds) else {
            throw TrialGateError(.invalidField, "TRIALGATE_PDF_TIMEOUT is \"\(given)\"; expected a whole number of seconds from 1 to 3600")
        }
        return seconds
    }

    /// The flags Chromium prints with. A fresh profile in the working folder; no background fetches (updates,
    /// sync, safe browsing lists); file access from the page is left at Chromium's default (off), and the page itself
    /// forbids every fetch by its Content-Security-Policy (`ReportHTML`).
    static func arguments(profile: String, pdf: String, page: String) -> [String] {
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. The page is our own, with no scripts.
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--user-data-dir=\(profile)", "--no-pdf-header-footer", "--print-to-pdf=\(pdf)", page]
    }

    /// Writes `html` as a PDF to `out` (which must not exist). The page handed to Chromium is `ReportHTML.guarded(html)`,
    /// since Chromium runs without a sandbox.
    ///
    /// The page and the PDF hold participant data: they are written in a new folder only the user can enter (0700,
    /// created by `mkdtemp`-like exclusive creation under a random name, so nobody can plant a link there first).
    /// Chromium is stopped (SIGTERM, then SIGKILL) if it has not finished within `timeout()` seconds.
    /// - Throws: `file_exists`, `file_unwritable`, `invalid_field` (the timeout) or `pdf_renderer`.
    static func write(html: String, to out: String) throws {
        if FileManager.default.fileExists(atPath: out) {
            throw TrialGateError(.fileExists, "--out \(out) already exists; choose another path")
        }
        let browser = try chromium(), seconds = try timeout()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("trialgate-report-\(UUID().uuidString)")
        // Not withIntermediateDirectories: an existing folder (or link) of that name is an error, never reused.
        guard mkdir(work.path, 0o700) == 0 else {
            throw TrialGateError(.fileUnwritable, "cannot make a working directory \(work.path): \(String(cString: strerror(errno)))")
        }
        defer { try? FileManager.default.removeItem(at: work) }
        let page = work.appendingPathComponent("report.html"), pdf = work.appendingPathComponent("report.pdf")
        let log = work.appendingPathComponent("chromium.log")
        do {
            try Data(ReportHTML.guarded(html).utf8).write(to: page, options: .withoutOverwriting)
            try Data().write(to: log, options: .withoutOverwriting)
        } catch {
            throw TrialGateError(.fileUnwritable, "cannot write \(page.path): \(error.localizedDescription)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = arguments(profile: work.appendingPathComponent("profile").path, pdf: pdf.path, page: page.absoluteString)
        // Chromium's output goes to a file, not a pipe: a helper process that keeps a pipe open cannot hold us up.
        let errors = try FileHandle(forWritingTo: log)
        defer { try? errors.close() }
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TrialGateError(.pdfRenderer, "cannot start \(browser): \(error.localizedDescription)")
        }
        let deadline = Date().addingTimeInterval(Double(seconds))
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            let grace = Date().addingTimeInterval(2)
            while process.isRunning, Date() < grace { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw TrialGateError(.pdfRenderer, "\(browser) did not finish printing the report within \(seconds) s and was stopped"
                                 + " (TRIALGATE_PDF_TIMEOUT sets the limit)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0, let bytes = FileManager.default.contents(atPath: pdf.path), bytes.starts(with: Array("%PDF-".utf8)) else {
            let stderr = FileManager.default.contents(atPath: log.path) ?? Data()
            let said = String(decoding: stderr, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw TrialGateError(.pdfRenderer, "\(browser) did not print the report (exit \(process.terminationStatus)): \(said)")
        }
        do { try bytes.write(to: URL(fileURLWithPath: out), options: .withoutOverwriting) } catch {
            throw TrialGateError(.fileUnwritable, "cannot write \(out): \(error.localizedDescription)")
        }
    }
}
