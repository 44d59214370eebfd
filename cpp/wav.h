// Minimal wav I/O for neuralfx-process: reads 16/24/32-bit PCM and 32/64-bit float wavs
// (first channel), writes mono 32-bit float. Bytes are assembled explicitly so the code does
// not depend on the host's endianness.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace nfx
{

/** An error the user can fix; main() prints it on one line and exits with code 2. */
struct UserError : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

struct Wav
{
    std::vector<float> samples; // first channel only, full scale = 1.0
    int sample_rate_hz = 0;
};

namespace wav_detail
{
    inline uint32_t u16(const unsigned char* p) { return p[0] | (p[1] << 8); }
    inline uint32_t u32(const unsigned char* p)
    {
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    }

    inline void put16(std::string& s, uint32_t v)
    {
        s += (char)(v & 0xff);
        s += (char)((v >> 8) & 0xff);
    }
    inline void put32(std::string& s, uint32_t v)
    {
        put16(s, v & 0xffff);
        put16(s, v >> 16);
    }

    inline float decode(const unsigned char* p, int format, int bits)
    {
        if(format == 3 && bits == 32)
        {
            uint32_t u = u32(p);
            float f;
            std::memcpy(&f, &u, 4);
            return f;
        }
        if(format == 3 && bits == 64)
        {
            uint64_t u = (uint64_t)u32(p) | ((uint64_t)u32(p + 4) << 32);
            double d;
            std::memcpy(&d, &u, 8);
            return (float)d;
        }
        if(bits == 16)
            return (float)(int16_t)u16(p) / 32768.0f;
        if(bits == 24)
        {
            // Shift the 24 bits to the top of an int32 so the sign comes along, then scale.
            int32_t v = (int32_t)(((uint32_t)p[0] << 8) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 24));
            return (float)((double)v / 2147483648.0);
        }
        return (float)((double)(int32_t)u32(p) / 2147483648.0);
    }
} // namespace wav_detail

inline Wav readWav(const std::string& path)
{
    using namespace wav_detail;
    std::ifstream f(path, std::ios::binary);
    if(!f)
        throw UserError(path + ": no such file or not readable");
    std::vector<unsigned char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if(b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0)
        throw UserError(path + ": not a RIFF/WAVE file; convert it to a .wav file");

    int format = 0, channels = 0, bits = 0, block_align = 0;
    uint32_t rate = 0;
    const unsigned char* data = nullptr;
    size_t data_bytes = 0;
    size_t pos = 12;
    while(pos + 8 <= b.size())
    {
        const unsigned char* id = b.data() + pos;
        size_t size = u32(id + 4);
        size_t body = pos + 8;
        // Streaming writers leave the data size at 0 or 0xffffffff; trust the file length.
        size_t avail = b.size() - body;
        if(std::memcmp(id, "fmt ", 4) == 0 && size >= 16 && size <= avail)
        {
            const unsigned char* p = b.data() + body;
            format = (int)u16(p);
            channels = (int)u16(p + 2);
            rate = u32(p + 4);
            block_align = (int)u16(p + 12);
            bits = (int)u16(p + 14);
            if(format == 0xFFFE && size >= 40)
                format = (int)u16(p + 24); // WAVE_FORMAT_EXTENSIBLE: sub-format GUID starts with the tag
        }
        else if(std::memcmp(id, "data", 4) == 0)
        {
            data = b.data() + body;
            data_bytes = (size == 0 || size > avail) ? avail : size;
            if(format != 0)
                break;
        }
        pos = body + size + (size & 1);
        if(size > avail)
            break;
    }
    if(format == 0)
        throw UserError(path + ": has no valid 'fmt ' chunk; the file is truncated or corrupt: export it again");
    if(data == nullptr)
        throw UserError(path + ": has no 'data' chunk; the file is truncated: export it again");
    const bool pcm_ok = format == 1 && (bits == 16 || bits == 24 || bits == 32);
    const bool float_ok = format == 3 && (bits == 32 || bits == 64);
    if(!pcm_ok && !float_ok)
        throw UserError(path + ": is " + (format == 1 ? "PCM" : format == 3 ? "float" : "format " + std::to_string(format))
                        + " with " + std::to_string(bits) + " bits; export it as 16/24-bit PCM or 32-bit float wav");
    if(channels < 1 || block_align < channels * bits / 8 || rate == 0)
        throw UserError(path + ": inconsistent wav header (channels " + std::to_string(channels) + ", block align "
                        + std::to_string(block_align) + "); export it again");

    Wav w;
    w.sample_rate_hz = (int)rate;
    const size_t frames = data_bytes / (size_t)block_align;
    w.samples.resize(frames);
    for(size_t n = 0; n < frames; ++n)
    {
        const float v = decode(data + n * (size_t)block_align, format, bits);
        if(!std::isfinite(v))
            throw UserError(path + ": has NaN or infinite samples (first at sample " + std::to_string(n)
                            + "); re-render it from a clean source");
        w.samples[n] = v;
    }
    if(frames == 0)
        throw UserError(path + ": holds no samples; export it again");
    return w;
}

/** Writes mono 32-bit float wav to a temp file next to `path`, then renames it into place. */
inline void writeWavFloat(const std::string& path, const std::vector<float>& x, int sample_rate_hz)
{
    using namespace wav_detail;
    const uint32_t data_bytes = (uint32_t)(x.size() * 4);
    std::string s;
    s.reserve(58 + data_bytes);
    s += "RIFF";
    put32(s, 50 + data_bytes);
    s += "WAVEfmt ";
    put32(s, 18); // the 18-byte fmt (with cbSize) that non-PCM formats call for
    put16(s, 3);
    put16(s, 1);
    put32(s, (uint32_t)sample_rate_hz);
    put32(s, (uint32_t)sample_rate_hz * 4);
    put16(s, 4);
    put16(s, 32);
    put16(s, 0);
    s += "fact";
    put32(s, 4);
    put32(s, (uint32_t)x.size());
    s += "data";
    put32(s, data_bytes);
    for(float v : x)
    {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        put32(s, u);
    }

    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if(!f || !f.write(s.data(), (std::streamsize)s.size()) || !f.flush())
        {
            std::remove(tmp.c_str());
            throw UserError(path + ": cannot write here (missing folder or no permission); choose another output path");
        }
    }
    if(std::rename(tmp.c_str(), path.c_str()) != 0)
    {
        std::remove(tmp.c_str());
        throw UserError(path + ": cannot replace this file; choose another output path");
    }
}

} // namespace nfx
