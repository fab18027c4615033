import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateServer
import TrialGateService

/// How a client reaches a TrialGate server: address, bearer token and TLS trust.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "HOST:PORT or unix:PATH.") var connect: String
    @Option(name: .long, help: "Bearer token (default: $TRIALGATE_TOKEN).") var token: String?
    @Flag(name: .long, help: "Use TLS, trusting the system's roots (implied by --tls-ca and --tls-pin).") var tls = false
    @Option(name: .long, help: "Use TLS and trust this PEM CA (or self-signed certificate) for the server's certificate.") var tlsCa: String?
    @Option(name: .long, help: "Use TLS and require the server's leaf certificate to have this SHA-256 (hex, of its DER form).")
    var tlsPin: String?

    /// A connection that has authenticated with the token.
    func open() throws -> any LineConnection {
        guard let token = token ?? Environment.get("TRIALGATE_TOKEN") else {
            throw Runner.fail(TrialGateError(.missingField, "give --token or set TRIALGATE_TOKEN"))
        }
        let useTLS = tls || tlsCa != nil || tlsPin != nil
        if useTLS, connect.hasPrefix("unix:") {
            throw Runner.fail(TrialGateError(.invalidField, "TLS is for TCP: --connect \(connect) is a Unix socket"))
        }
        let client: any LineConnection
        do {
            client = useTLS ? try TLSLineClient(connect: connect, trust: .init(caPath: tlsCa, pinnedSHA256: tlsPin)) : try LineClient(connect: connect)
        } catch {
            throw Runner.fail(TrialGateError(.connectFailed, error.localizedDescription))
        }
        do {
            guard let auth = try client.request(CanonicalJSON.string(["cmd": "auth", "token": .string(token)])), auth.contains("\"ok\":true") else {
                throw Runner.fail(TrialGateError(.authFailed, "the server refused the token"))
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw Runner.fail(TrialGateError(.connectionLost, error.localizedDescription))
        }
        return client
    }

    /// Sends one request and returns its result, or fails with the server's error.
    static func call(_ client: any LineConnection, _ request: JSONValue) throws -> JSONValue {
        let line: String?
        do { line = try client.request(CanonicalJSON.string(request)) } catch {
            throw Runner.fail(TrialGateError(.connectionLost, error.localizedDescription))
        }
        guard let line, let reply = try? JSONParser.parse(Array(line.utf8)) else {
            throw Runner.fail(TrialGateError(.connectionLost, "the server closed the connection"))
        }
        guard reply["ok"] == true, let result = reply["result"] else {
            throw Runner.fail(TrialGateError(reply["error"]?["code"]?.stringValue.flatMap(ErrorCode.init(rawValue:)) ?? .internal, reply["error"]?["message"]?.stringValue ?? "no reply"))
        }
        return result
    }
}

struct Client: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send stdin lines to a TrialGate server and print each reply line.")
    @OptionGroup var server: ClientOptions

    func run() throws {
        let client = try server.open()
        do {
            // Send everything, then read every reply: requests are pipelined and replies come back in order.
            let writer = Thread {
                while let line = readLine(strippingNewline: true) {
                    // The protocol's one definition of a blank line (it gets no reply, so it is not sent).
                    if Frame.line(framing: line.utf8).isBlank { continue }
                    try? client.send(line: line)
                }
                client.finishSending()
            }
            writer.start()
            var failures = 0
            while let reply = try client.readLine() {
                // A failed request, as the reply's own `ok` says (a result may contain the text "ok":false).
                if (try? JSONParser.parse(Array(reply.utf8)))?["ok"] != .bool(true) { failures += 1 }
                print(reply)
                fflush(nil)
            }
            if failures > 0 { throw ExitCode(2) }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw Runner.fail(TrialGateError(.connectionLost, error.localizedDescription))
        }
    }
}
