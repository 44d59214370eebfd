// What neuralfx_process.cpp needs from the model code, split into translation units so the
// slow Eigen-heavy parts (compile-time lab models, RTNeural's dynamic parser) build in parallel.
#pragma once

#include "wav.h"

#include <json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace nfx
{

using json = nlohmann::json;

/** A loaded model run sample by sample with its state carried between calls, as in a plugin. */
struct Processor
{
    virtual ~Processor() = default;
    /** Zero every layer's state (recurrent state and conv history). */
    virtual void reset() = 0;
    /** Run n samples through the model; the state carries on to the next call. */
    virtual void process(const float* in, float* out, size_t n) = 0;
    /** The knob inputs (each 0..1) fed with every sample from now on, after the audio; set
     * them before reset(), which for AIDA-X files warms the model up with them. */
    virtual void setKnobs(const std::vector<float>& scaled) { knobs = scaled; }

protected:
    std::vector<float> knobs;
};

/** One knob input of a conditioned model: the audio is input 0, knob i is input 1 + i. */
struct KnobInfo
{
    std::string name, unit;
    double lo = 0.0, hi = 1.0; // the model sees (value - lo) / (hi - lo)
};

/** What checkModel learned about a file, before any weight reaches RTNeural. */
struct ModelInfo
{
    std::string format; // "lab", "native" or "aidax"
    std::string cell; // lab and aidax formats: "lstm" or "gru"
    int hidden = 0; // lab and aidax formats: hidden size
    bool skip = false; // metadata or in_skip: add the input to the output after processing
    bool in_skip = false; // aidax: the processor adds the (gained) input itself
    float in_gain_db = 0.0f; // aidax: in_gain
    float out_gain_db = 0.0f; // aidax: out_gain
    int sample_rate_hz = 0; // metadata: 0 when the file does not say
    int in_channels = 1; // in_shape: the audio, then one input per knob
    std::vector<KnobInfo> knobs; // metadata "knobs"; param1.. over 0..1 when the file has none
    std::string description; // e.g. "native: conv1d 8 > lstm 16 > dense 1"
};

/**
 * Detects the format and checks every key and weight shape, throwing UserError with the file,
 * the key or layer, and the shapes. RTNeural's loaders check little: a short array is read past
 * its end and an unknown layer type is skipped silently, so nothing unchecked may reach them.
 */
ModelInfo checkModel(const json& j, const std::string& where);

/** The lab format on compile-time RTNeural::ModelT; refuses hidden sizes not compiled in. */
std::unique_ptr<Processor> makeLabProcessor(const json& j, const ModelInfo& info, const std::string& where);

/** AIDA-X files on compile-time ModelT, with AIDA-X's gains, skip and warm-up on reset. */
std::unique_ptr<Processor> makeAidaxProcessor(const json& j, const ModelInfo& info, const std::string& where);

/** The native format on RTNeural's dynamic json_parser::parseJson. */
std::unique_ptr<Processor> makeNativeProcessor(const json& j, const std::string& where);

} // namespace nfx
