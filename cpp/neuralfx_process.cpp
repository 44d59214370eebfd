// neuralfx-process: run a model.json (lab, RTNeural native or AIDA-X format) over a wav file
// exactly as a plugin would, or measure its real-time factor.
//
//   neuralfx-process [--knob NAME=VALUE]... MODEL.json IN.wav OUT.wav
//   neuralfx-process --bench MODEL.json
//
// A model with knob inputs needs every knob, in its own units (the names and ranges come from
// the file's metadata); the processor feeds {x, knob 1 (0..1), ...} to RTNeural per sample.
// Errors a user can fix print one line on stderr and exit with code 2.
#include "processor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <utility>
#include <vector>

namespace
{
using nfx::json;
using nfx::UserError;

constexpr int kBenchRateHz = 44100;
constexpr double kBenchSeconds = 10.0;

const char* kUsage = "usage: neuralfx-process [--knob NAME=VALUE]... MODEL.json IN.wav OUT.wav\n"
                     "       neuralfx-process --bench MODEL.json";

json readJson(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if(!f)
        throw UserError(path + ": no such model file");
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    try
    {
        return json::parse(text);
    }
    catch(const json::parse_error& e)
    {
        throw UserError(path + ": not valid JSON (at byte " + std::to_string(e.byte)
                        + "); the file is truncated or not a model: export it again");
    }
}

struct Loaded
{
    nfx::ModelInfo info;
    std::unique_ptr<nfx::Processor> proc;
};

Loaded load(const std::string& path)
{
    const json j = readJson(path);
    Loaded m;
    m.info = nfx::checkModel(j, path);
    try
    {
        if(m.info.format == "lab")
            m.proc = nfx::makeLabProcessor(j, m.info, path);
        else if(m.info.format == "aidax")
            m.proc = nfx::makeAidaxProcessor(j, m.info, path);
        else
            m.proc = nfx::makeNativeProcessor(j, path);
    }
    catch(const json::exception& e)
    {
        // checkModel should have caught it; this keeps a surprise a one-line error, not an abort.
        throw UserError(path + ": could not read the weights (" + std::string(e.what()) + "); export it again");
    }
    return m;
}

using KnobArgs = std::vector<std::pair<std::string, std::string>>;

/** "drive_db 0..24 dB", as `neuralfx info` shows a knob. */
std::string describeKnob(const nfx::KnobInfo& k)
{
    char range[64];
    std::snprintf(range, sizeof range, " %g..%g", k.lo, k.hi);
    return k.name + range + (k.unit.empty() ? "" : " " + k.unit);
}

std::string listKnobs(const nfx::ModelInfo& info)
{
    std::string out;
    for(const auto& k : info.knobs)
        out += (out.empty() ? "" : ", ") + describeKnob(k);
    return out;
}

/** Each knob's input (0..1) from --knob values in its units: every knob once, inside its range. */
std::vector<float> scaledKnobs(const nfx::ModelInfo& info, const KnobArgs& given, const std::string& where)
{
    for(const auto& [name, text] : given)
    {
        if(info.knobs.empty())
            throw UserError("--knob " + name + ": " + where + " has no knob inputs; drop --knob");
        if(std::none_of(info.knobs.begin(), info.knobs.end(), [&](const nfx::KnobInfo& k) { return k.name == name; }))
            throw UserError("--knob " + name + ": " + where + " has no such knob; its knobs are " + listKnobs(info));
    }
    std::vector<float> scaled;
    for(const auto& k : info.knobs)
    {
        auto it = std::find_if(given.begin(), given.end(), [&](const auto& g) { return g.first == k.name; });
        if(it == given.end())
            throw UserError(where + ": knob " + k.name + " is not set; set every knob with --knob NAME=VALUE: " + listKnobs(info));
        char* end = nullptr;
        const double v = std::strtod(it->second.c_str(), &end);
        if(it->second.empty() || *end != '\0' || !std::isfinite(v))
            throw UserError("--knob " + k.name + "=" + it->second + ": not a number; write NAME=VALUE with a value inside " + describeKnob(k));
        if(v < k.lo || v > k.hi)
            throw UserError("--knob " + k.name + "=" + it->second + ": outside its range " + describeKnob(k) + "; pick a value inside it");
        scaled.push_back((float)((v - k.lo) / (k.hi - k.lo)));
    }
    return scaled;
}

/** One pass from a reset state, the skip added after the network as in training. */
void run(Loaded& m, const std::vector<float>& x, std::vector<float>& y)
{
    y.resize(x.size());
    m.proc->reset();
    m.proc->process(x.data(), y.data(), x.size());
    if(m.info.skip)
        for(size_t n = 0; n < x.size(); ++n)
            y[n] += x[n];
}

int process(const std::string& model_path, const std::string& in_path, const std::string& out_path, const KnobArgs& knobs)
{
    Loaded m = load(model_path);
    m.proc->setKnobs(scaledKnobs(m.info, knobs, model_path));
    if(in_path == out_path)
        throw UserError(out_path + ": is the input file; choose another output path");
    const nfx::Wav in = nfx::readWav(in_path);
    if(m.info.sample_rate_hz && in.sample_rate_hz != m.info.sample_rate_hz)
        throw UserError(in_path + ": sample rate is " + std::to_string(in.sample_rate_hz) + " Hz; the model was trained at "
                        + std::to_string(m.info.sample_rate_hz) + " Hz: resample the file first");
    std::vector<float> y;
    run(m, in.samples, y);
    for(size_t n = 0; n < y.size(); ++n)
        if(!std::isfinite(y[n]))
            throw UserError(model_path + ": the model produced NaN or inf at sample " + std::to_string(n) + "; it is broken: retrain it");
    nfx::writeWavFloat(out_path, y, in.sample_rate_hz);
    return 0;
}

int bench(const std::string& model_path)
{
    Loaded m = load(model_path);
    // The cost does not depend on the knobs' values: hold each at the middle of its range.
    m.proc->setKnobs(std::vector<float>(m.info.knobs.size(), 0.5f));
    // A sine plus a little deterministic noise, so every run processes the same signal.
    const size_t n = (size_t)(kBenchSeconds * kBenchRateHz);
    std::vector<float> x(n), y;
    uint32_t seed = 12345;
    for(size_t i = 0; i < n; ++i)
    {
        seed = seed * 1664525u + 1013904223u;
        const float noise = (float)(seed >> 8) / 16777216.0f - 0.5f;
        x[i] = 0.5f * std::sin(2.0f * 3.14159265f * 220.0f * (float)i / kBenchRateHz) + 0.05f * noise;
    }
    double best_s = 1e30, best_cpu_s = 1e30;
    for(int rep = 0; rep < 3; ++rep) // best of three: the least disturbed by the rest of the machine
    {
        const auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        run(m, x, y);
        const std::clock_t c1 = std::clock();
        const auto t1 = std::chrono::steady_clock::now();
        best_s = std::min(best_s, std::chrono::duration<double>(t1 - t0).count());
        best_cpu_s = std::min(best_cpu_s, (double)(c1 - c0) / CLOCKS_PER_SEC);
    }
    const double rtf = best_s / kBenchSeconds;
    std::printf("%s\n", m.info.description.c_str());
    std::printf("processed %.1f s at %d Hz in %.4f s on one thread: real-time factor %.5f (%.0fx faster than real time)\n",
                kBenchSeconds, kBenchRateHz, best_s, rtf, 1.0 / rtf);
    // On a busy machine wall time includes waiting for a core; CPU time shows the model's own cost.
    std::printf("cpu time %.4f s: real-time factor by cpu time %.5f\n", best_cpu_s, best_cpu_s / kBenchSeconds);
    return 0;
}

std::string oneLine(std::string s)
{
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\r', ' ');
    return s;
}
} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    try
    {
        if(args.size() == 2 && args[0] == "--bench")
            return bench(args[1]);
        KnobArgs knobs;
        std::vector<std::string> rest;
        for(size_t i = 0; i < args.size(); ++i)
        {
            if(args[i] != "--knob")
            {
                rest.push_back(args[i]);
                continue;
            }
            const std::string spec = i + 1 < args.size() ? args[++i] : "";
            const size_t eq = spec.find('=');
            if(eq == std::string::npos || eq == 0)
                throw UserError("--knob '" + spec + "': write NAME=VALUE, e.g. gain=7");
            const std::string name = spec.substr(0, eq);
            for(const auto& k : knobs)
                if(k.first == name)
                    throw UserError("--knob " + spec + ": " + name + " is set twice; give each knob once");
            knobs.emplace_back(name, spec.substr(eq + 1));
        }
        if(rest.size() == 3 && rest[0].rfind("--", 0) != 0)
            return process(rest[0], rest[1], rest[2], knobs);
        std::cerr << kUsage << std::endl;
        return 2;
    }
    catch(const std::exception& e) // UserError and anything RTNeural or the library throws
    {
        std::cerr << "neuralfx-process: error: " << oneLine(e.what()) << std::endl;
        return 2;
    }
}
