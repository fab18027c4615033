import Foundation
import TrialGateAudit
import TrialGateCore
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A witness a log submits its checkpoints to: where its `add-checkpoint` endpoint is and the key its cosignatures
/// must verify with. Written `URL=VKEY` on the command line and in `TRIALGATE_WITNESSES`.
public struct WitnessTarget: Sendable, Equatable {
    /// The `add-checkpoint` endpoint (the prefix given, with `/add-checkpoint` appended).
    public let url: URL
    public let key: CosignerKey

    public init(url: URL, key: CosignerKey) { (self.url, self.key) = (url, key) }

    /// `URL=VKEY`: the witness's URL prefix (http or https) and its cosigner vkey.
    public init(_ text: String) throws {
        guard let eq = text.firstIndex(of: "="), let url = URL(string: String(text[..<eq]).trimmingSuffix("/") + "/add-checkpoint"),
              url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false else {
            throw TrialGateError(.badRequest, "a witness is URL=VKEY (http://host:port=name+id+key), got \(text.prefix(80))")
        }
        self.init(url: url, key: try CosignerKey(vkey: String(text[text.index(after: eq)...])))
    }

    /// The witnesses named in `TRIALGATE_WITNESSES`-style text: `URL=VKEY` entries separated by spaces or newlines.
    public static func list(_ text: String) throws -> [WitnessTarget] {
        let targets = try text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map { try WitnessTarget(String($0)) }
        var names = Set<String>()
        for t in targets where !names.insert(t.key.name).inserted {
            throw TrialGateError(.badRequest, "the witness \(t.key.name) is named twice")
        }
        return targets
    }

    /// POSTs an `add-checkpoint` body and answers the witness's HTTP status and body. `timeout` bounds the whole
    /// exchange; an answer larger than 64 KiB is cut (a cosignature line is under 200 bytes).
    public func post(_ body: String, timeout: TimeInterval) throws -> (status: Int, body: String) {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        let done = DispatchSemaphore(value: 0)
        let result = LockedResult()
        let url = self.url
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { result.set(.failure(TrialGateError(.connectFailed, "\(url): \(error.localizedDescription)"))) }
            else { result.set(.success(((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: (data ?? Data()).prefix(64 * 1024), as: UTF8.self)))) }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            throw TrialGateError(.connectFailed, "\(url): no answer within \(Int(timeout)) s")
        }
        return try result.get()
    }
}

/// The result a URLSession callback hands to the waiting thread.
private final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<(Int, String), Error> = .failure(TrialGateError(.connectFailed, "no answer"))
    func set(_ v: Result<(Int, String), Error>) { lock.lock(); value = v; lock.unlock() }
    func get() throws -> (status: Int, body: String) { lock.lock(); defer { lock.unlock() }; return try value.get() }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
