// Tests of GGMLType: ids and block geometry must equal ggml's (ggml.h, ggml-common.h).
import GGUF
import Testing

struct GGMLTypeTests {
    @Test func idsAndSizesMatchGGML() {
        let expected: [(GGMLType, UInt32, Int, Int)] = [
            (.f32, 0, 1, 4), (.f16, 1, 1, 2), (.q4_0, 2, 32, 18), (.q4_1, 3, 32, 20), (.q5_0, 6, 32, 22),
            (.q5_1, 7, 32, 24), (.q8_0, 8, 32, 34), (.q8_1, 9, 32, 36), (.q4_K, 12, 256, 144), (.q5_K, 13, 256, 176),
            (.q6_K, 14, 256, 210), (.q8_K, 15, 256, 292),
            (.bf16, 30, 1, 2), (.q2_K, 10, 256, 84), (.q3_K, 11, 256, 110), (.iq4_nl, 20, 32, 18),
            (.iq4_xs, 23, 256, 136), (.iq2_xxs, 16, 256, 66), (.iq2_xs, 17, 256, 74), (.iq3_xxs, 18, 256, 98),
            (.iq1_s, 19, 256, 50), (.iq3_s, 21, 256, 110), (.iq2_s, 22, 256, 82), (.iq1_m, 29, 256, 56),
            (.tq1_0, 34, 256, 54), (.tq2_0, 35, 256, 66), (.mxfp4, 39, 32, 17),
        ]
        for (type, id, block, bytes) in expected {
            #expect(type.rawValue == id && type.blockSize == block && type.bytesPerBlock == bytes, "\(type)")
        }
        #expect(GGMLType.q4_1.rowBytes(576) == 360)
    }
}
