// libFuzzer entry point over the GGUF reader: any byte string must parse or throw, never crash,
// hang or read out of bounds. Built and run by deploy/fuzz.sh, not by `swift test`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let file = try? GGUFFile(bytes: bytes) {
        for tensor in file.tensors {
            file.withData(of: tensor) { raw in _ = raw.last }
        }
    }
    return 0
}
