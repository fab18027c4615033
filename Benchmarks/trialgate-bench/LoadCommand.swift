import ArgumentParser
import Foundation
import TrialGateServer
import TrialGateService

/// What each request of a load run does.
enum LoadOperation: String, ExpressibleByArgument, CaseIterable {
    /// Record a Ki-67 result.
    case append
    /// Show one of the connection's few candidates, registered before the run: reads alone, as Redis's `GET` is.
    case read
    /// Show a candidate, with a new candidate every 20 requests, as `append` does.
    case readMixed = "read-mixed"
    /// Decide a candidate.
    case decide
}

/// Load generator for a running server.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Drive a running server: one request in flight per connection, for a time; prints throughput and latencies.",
        discussion: """
            OP: append (record ki67), read (show a candidate), read-mixed (show, with a new candidate every 20 requests, \
            as append does), decide.
            """
    )

    @Argument(help: ArgumentHelp("The server's address, HOST:PORT.", valueName: "addr"))
    var address: String

    @Argument(help: "A token of an account that may register and record at SITE-01.")
    var token: String

    @Argument(help: ArgumentHelp("What each request does.", valueName: "op"))
    var operation: LoadOperation

    @Argument(help: "How many connections.")
    var connections: Int

    @Argument(help: ArgumentHelp("How long to send requests, in seconds.", valueName: "seconds"))
    var duration: Double

    @Option(name: .long, help: "A read run's candidates are registered through this server (HOST:PORT) before the run: the node that writes, when the one measured does not.")
    var setupAt: String?

    func run() throws {
        let generator = LoadGenerator(operation: operation, duration: duration, today: SystemClock().now().date.description)
        if let setupAt, operation == .read { try generator.registerReadSet(at: setupAt, token: token, count: connections) }
        generator.connect(to: address, token: token, count: connections)
        generator.drive()
        generator.printSummary(connections: connections)
    }
}

/// One connection of a load run and what it has measured.
final class LoadConnection {
    let client: LineClient
    let index: Int
    var buffer: [UInt8] = []
    /// Lines still to send before the next timed request: a new candidate's registration and first record.
    var script: [String] = []
    var timed = false
    var started: UInt64 = 0
    var sent = 0
    var round = 0
    var latencies: [Double] = []
    var failed = 0
    var done = false
    init(client: LineClient, index: Int) { self.client = client; self.index = index }
}

/// One thread multiplexes every connection with poll(2), as redis-benchmark does with its event loop: a thread per
/// connection would spend the machine's two cores on context switches that the server then does not get.
final class LoadGenerator {
    let operation: LoadOperation
    let today: String
    let runID = UInt32.random(in: 0...UInt32.max)
    var deadline: UInt64
    let duration: Double
    var connections: [LoadConnection] = []
    var setupErrors = 0
    /// When the first request was sent, after every connection's set-up.
    var started: UInt64 = 0
    /// When the first timed request was sent: a `read` run is timed from there, after its connections' set-up.
    var timedFrom: UInt64?

    /// Candidates each connection registers before a `read` run and then shows in turn: reads only, as Redis's `GET`
    /// benchmark is, over a working set of 4 × connections candidates.
    static let readSet = 4
    /// Replies are canonical JSON (keys in order) and the generator sends no ids, so a success starts with
    /// `{"ok":true,` and an error with `{"error":`: the prefix tells, and the rest is not decoded.
    static let okPrefix = Array(#"{"ok":true,"#.utf8)

    init(operation: LoadOperation, duration: Double, today: String) {
        self.operation = operation
        self.today = today
        self.duration = duration
        deadline = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
    }

    /// Opens and authenticates `count` connections, non-blocking; counts those that fail as errors.
    func connect(to address: String, token: String, count: Int) {
        for c in 0..<count {
            do {
                let client = try LineClient(connect: address)
                guard try client.request(#"{"cmd":"auth","token":"\#(token)"}"#)?.contains("\"ok\":true") == true else { setupErrors += 1; continue }
                let fd = client.socketDescriptor
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                connections.append(LoadConnection(client: client, index: c))
            } catch {
                setupErrors += 1
            }
        }
    }

    private func candidate(_ k: LoadConnection, _ round: Int) -> String { candidate(k.index, round) }
    private func candidate(_ index: Int, _ round: Int) -> String { "LOAD-\(runID)-\(index)-\(round)" }

    /// Whether a read run's candidates were registered elsewhere before it (`--setup-at`).
    private var readSetRegistered = false

    /// Registers every connection's read set through the server at `address`, one request at a time, before the run.
    func registerReadSet(at address: String, token: String, count: Int) throws {
        let client = try LineClient(connect: address)
        guard try client.request(#"{"cmd":"auth","token":"\#(token)"}"#)?.contains("\"ok\":true") == true else {
            throw ValidationError("--setup-at \(address) refused the token")
        }
        for c in 0..<count {
            for r in 0..<Self.readSet {
                for line in opening(candidate(c, r)) where try client.request(line)?.hasPrefix(#"{"ok":true"#) != true {
                    throw ValidationError("--setup-at \(address) did not register the read set")
                }
            }
        }
        readSetRegistered = true
        // The run's time starts after the set-up.
        deadline = DispatchTime.now().uptimeNanoseconds + UInt64(duration * 1e9)
    }

    private func record(_ candidate: String) -> String {
        #"{"cmd":"record","kind":"ki67","candidate":"\#(candidate)","fields":{"percent":8,"specimen_date":"\#(today)","method":"manual_count"}}"#
    }

    /// A new candidate's registration and first record.
    private func opening(_ candidate: String) -> [String] {
        [#"{"cmd":"register","candidate":"\#(candidate)","site":"SITE-01"}"#, record(candidate)]
    }

    /// Queues the connection's next request: a candidate gets 20 requests, then the connection moves to a new one
    /// (screening histories are tens of events long, not thousands). A `read` run shows its own few candidates.
    private func queueRequest(_ k: LoadConnection) {
        if operation == .read {
            if k.round == 0 {
                if !readSetRegistered { for r in 0..<Self.readSet { k.script += opening(candidate(k, r)) } }
                k.round = Self.readSet
            }
            k.script.append(#"{"cmd":"show","candidate":"\#(candidate(k, k.sent % Self.readSet))"}"#)
            return
        }
        if k.sent % 20 == 0 {
            k.script = opening(candidate(k, k.round))
            k.round += 1
        }
        let current = candidate(k, k.round - 1)
        switch operation {
        case .readMixed: k.script.append(#"{"cmd":"show","candidate":"\#(current)"}"#)
        case .decide: k.script.append(#"{"cmd":"decide","candidate":"\#(current)"}"#)
        case .append, .read: k.script.append(record(current))
        }
    }

    /// Sends the connection's next line, or marks it done once the time is up.
    private func sendNext(_ k: LoadConnection) {
        if k.script.isEmpty {
            guard DispatchTime.now().uptimeNanoseconds < deadline else { k.done = true; return }
            queueRequest(k)
            k.sent += 1
        }
        let line = k.script.removeFirst()
        k.timed = k.script.isEmpty
        k.started = DispatchTime.now().uptimeNanoseconds
        if k.timed && timedFrom == nil { timedFrom = k.started }
        do { try k.client.send(line: line) } catch { k.failed += 1; k.done = true }
    }

    /// Sends every connection's first request, then answers each reply with the next until every connection is done.
    func drive() {
        started = DispatchTime.now().uptimeNanoseconds
        for k in connections { sendNext(k) }
        var fds = connections.map { pollfd(fd: $0.client.socketDescriptor, events: Int16(POLLIN), revents: 0) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var open = connections.filter { !$0.done }.count
        while open > 0 {
            guard poll(&fds, nfds_t(fds.count), 1000) > 0 else { continue }
            for i in fds.indices where fds[i].revents != 0 {
                fds[i].revents = 0
                let k = connections[i]
                if k.done { continue }
                if serve(k, &chunk) { open -= 1 }
                if k.done { fds[i].fd = -1 }
            }
        }
    }

    /// Reads what the connection's socket holds and answers each complete reply with the next request.
    /// - Returns: whether the connection is done (its time is up, or it failed).
    private func serve(_ k: LoadConnection, _ chunk: inout [UInt8]) -> Bool {
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(k.client.socketDescriptor, $0.baseAddress, $0.count, 0) }
            if got > 0 { k.buffer.append(contentsOf: chunk[0..<got]); continue }
            if got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { k.failed += 1; k.done = true }
            break
        }
        while !k.done, let nl = k.buffer.firstIndex(of: 0x0A) {
            let reply = k.buffer[..<nl]
            if k.timed { k.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - k.started) / 1e6) }
            if !reply.starts(with: Self.okPrefix) { k.failed += 1 }
            k.buffer.removeSubrange(...nl)
            sendNext(k)
        }
        return k.done
    }

    /// Prints the run's one line: throughput, latency percentiles in milliseconds, and errors.
    func printSummary(connections count: Int) {
        var all: [Double] = []
        var errors = setupErrors
        for k in connections { all += k.latencies; errors += k.failed }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - (operation == .read ? timedFrom ?? started : started)) / 1e9
        let latencies = all.sorted()
        func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(String(format: "op=%@ connections=%d requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d p90_ms=%.3f p999_ms=%.3f max_ms=%.3f",
                     operation.rawValue, count, latencies.count, Double(latencies.count) / elapsed, pct(0.5), pct(0.99), errors,
                     pct(0.9), pct(0.999), latencies.last ?? 0))
    }
}
