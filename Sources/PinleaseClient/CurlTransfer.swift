import CCurl

/// One blocking HTTP exchange with libcurl, over TCP or a Unix socket. The token goes only into
/// the Authorization header, which is never printed (curl's verbose mode stays off).
final class CurlTransfer {
    private let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private(set) var headers: [(name: String, value: String)] = []
    private(set) var body: [UInt8] = []
    /// Called with each piece of a 2xx body instead of collecting it; returns false to stop the transfer.
    private let onData: ((UnsafeRawBufferPointer) -> Bool)?
    private var statusChecked = false
    private var streaming = false
    /// Set when `onData` asked to stop, so the abort is not reported as a failure.
    private(set) var stoppedByReceiver = false

    private static let globalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    init(
        method: String, address: DaemonAddress, target: String, token: String?, body: [UInt8]?, headers extra: [String],
        timeoutSeconds: Int?, onData: ((UnsafeRawBufferPointer) -> Bool)?
    ) throws(ClientError) {
        guard Self.globalInit, let easy = curl_easy_init() else {
            throw ClientError(.other, "libcurl could not be initialised")
        }
        self.easy = easy
        self.onData = onData
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        var lines = ["Accept: application/json, application/problem+json, text/event-stream", "Expect:"] + extra
        if body != nil { lines.append("Content-Type: application/json") }
        if let token { lines.append("Authorization: Bearer \(token)") }
        for line in lines { headerList = curl_slist_append(headerList, line) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        var codes = [
            ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer),
            ccurl_easy_setopt_string(easy, CURLOPT_URL, address.url(for: target)),
            ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method),
            ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"),
            ccurl_easy_setopt_string(easy, CURLOPT_USERAGENT, "pinlease-cli/\(ClientVersion.current)"),
            ccurl_easy_setopt_string(easy, CURLOPT_PROXY, ""),
            ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0),
            ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1),
            ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 10_000),
            ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList),
            ccurl_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION, cliBodyReceived),
            ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context),
            ccurl_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION, cliHeaderReceived),
            ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context),
        ]
        if let timeoutSeconds { codes.append(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutSeconds * 1000)) }
        if case .unix(let path) = address {
            codes.append(ccurl_easy_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, path))
        }
        if let body {
            codes.append(ccurl_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            codes.append(
                body.withUnsafeBytes { raw in
                    ccurl_easy_setopt_pointer(
                        easy, CURLOPT_COPYPOSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(errorBuffer))
                })
        }
        if let bad = codes.first(where: { $0 != CURLE_OK }) {
            curl_easy_cleanup(easy)
            curl_slist_free_all(headerList)
            errorBuffer.deallocate()
            throw ClientError(.other, "libcurl refused an option: " + String(cString: curl_easy_strerror(bad)))
        }
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Runs the exchange. Connection failures are `.unreachable`; the HTTP status is returned as is.
    func perform(address: DaemonAddress) throws(ClientError) -> Int {
        let result = curl_easy_perform(easy)
        if result != CURLE_OK && !(stoppedByReceiver && result == CURLE_WRITE_ERROR) {
            let detail = String(cString: errorBuffer)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
            switch result {
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT,
                CURLE_COULDNT_RESOLVE_PROXY,
                CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR:
                throw ClientError(.unreachable, "cannot reach the daemon at \(address): \(text)")
            default:
                throw ClientError(.other, "request to \(address) failed: \(text)")
            }
        }
        return responseCode ?? 0
    }

    private var responseCode: Int? {
        var code = 0
        guard ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK, code > 0 else { return nil }
        return code
    }

    fileprivate func received(_ data: UnsafeRawBufferPointer) -> Bool {
        if !statusChecked {
            statusChecked = true
            streaming = onData != nil && (200..<300).contains(responseCode ?? 0)
        }
        guard streaming, let onData else {
            body.append(contentsOf: data)
            return true
        }
        if onData(data) { return true }
        stoppedByReceiver = true
        return false
    }

    fileprivate func receivedHeader(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            headers = []
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        let value = text[text.index(after: colon)...].trimmingWhitespace
        headers.append((text[..<colon].lowercased(), value))
    }
}

// curl's callbacks: C function pointers that capture nothing; the transfer comes through the
// user-data pointer (unretained: the caller keeps the transfer alive during perform).

private func cliBodyReceived(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return size * count }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.received(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
}

private func cliHeaderReceived(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    if let data, let context {
        Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            .receivedHeader(UnsafeRawBufferPointer(start: data, count: size * count))
    }
    return size * count
}
