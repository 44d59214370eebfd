// aidax-param1: a one-knob AIDA-X file played the way the AIDA-X plugin plays it, in one page,
// to check neuralfx's aidax export against the plugin's own path for a model with a knob:
//
//   aidax-param1 MODEL.aidax.json IN.wav OUT.wav PARAM1
//
// PARAM1 is AIDA-X's knob value, 0..1. As in AIDA-X: a compile-time RTNeural::ModelT whose first
// layer takes 2 inputs, loaded with ModelT::parseJson and reset; 2048 samples of silence with
// the knob held (its pre-buffer on load); then per sample in = {x * in_gain, PARAM1},
// y = model(in) (+ x * in_gain when in_skip), times out_gain. Compiled for LSTM and GRU of 16
// units; neuralfx-process runs every size AIDA-X runs.
#include "processor.h"

#include <RTNeural/RTNeural.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace
{
using nfx::json;
using nfx::UserError;

constexpr int kHidden = 16;
constexpr int kWarmupSamples = 2048;

float dbToGain(float db) { return db > -90.0f ? std::pow(10.0f, db * 0.05f) : 0.0f; }

template <typename Rnn>
std::vector<float> play(const json& j, const nfx::ModelInfo& info, const std::vector<float>& x, float param1)
{
    // On the heap and never moved: ModelT points an Eigen::Map at its own buffer.
    auto model = std::make_unique<RTNeural::ModelT<float, 2, 1, Rnn, RTNeural::DenseT<float, kHidden, 1>>>();
    model->parseJson(j, false);
    model->reset();
    const float in_gain = dbToGain(info.in_gain_db), out_gain = dbToGain(info.out_gain_db);
    alignas(RTNEURAL_DEFAULT_ALIGNMENT) float in[2] = { 0.0f, param1 };
    for(int n = 0; n < kWarmupSamples; ++n)
        model->forward(in); // in[0] is still silence
    std::vector<float> y(x.size());
    for(size_t n = 0; n < x.size(); ++n)
    {
        in[0] = x[n] * in_gain; // the plugin's two lines: the audio, then the knob
        in[1] = param1;
        y[n] = (model->forward(in) + (info.in_skip ? in[0] : 0.0f)) * out_gain;
    }
    return y;
}

int run(const std::string& model_path, const std::string& in_path, const std::string& out_path, const std::string& param)
{
    char* end = nullptr;
    const float param1 = std::strtof(param.c_str(), &end);
    if(param.empty() || *end != '\0' || !(param1 >= 0.0f && param1 <= 1.0f))
        throw UserError("PARAM1 '" + param + "' is not a number from 0 to 1 (AIDA-X's knob)");
    std::ifstream f(model_path, std::ios::binary);
    if(!f)
        throw UserError(model_path + ": no such model file");
    json j;
    try
    {
        j = json::parse(f);
    }
    catch(const json::exception&)
    {
        throw UserError(model_path + ": not valid JSON; export it again");
    }
    const nfx::ModelInfo info = nfx::checkModel(j, model_path);
    if(info.format != "aidax" || info.in_channels != 2 || info.hidden != kHidden)
        throw UserError(model_path + ": is " + info.description + " with " + std::to_string(info.in_channels)
                        + " inputs; this program runs AIDA-X files of one knob and 16 units");
    const nfx::Wav wav = nfx::readWav(in_path);
    const auto y = info.cell == "gru" ? play<RTNeural::GRULayerT<float, 2, kHidden>>(j, info, wav.samples, param1)
                                      : play<RTNeural::LSTMLayerT<float, 2, kHidden>>(j, info, wav.samples, param1);
    nfx::writeWavFloat(out_path, y, wav.sample_rate_hz);
    return 0;
}
} // namespace

int main(int argc, char** argv)
{
    if(argc != 5)
    {
        std::cerr << "usage: aidax-param1 MODEL.aidax.json IN.wav OUT.wav PARAM1" << std::endl;
        return 2;
    }
    try
    {
        return run(argv[1], argv[2], argv[3], argv[4]);
    }
    catch(const std::exception& e)
    {
        std::cerr << "aidax-param1: error: " << e.what() << std::endl;
        return 2;
    }
}
