// AIDA-X files the way AIDA-X plays them. This header holds the processor template; aidax_in1,
// aidax_in2 and aidax_in3.cpp each instantiate one input count, so that the 54 ModelT types
// compile in parallel. A compile-time RTNeural::ModelT is chosen by the first layer's type and
// width (LSTM or GRU + dense 1, as in AIDA-X's model_variant.hpp), loaded with
// ModelT::parseJson, reset, then 2048 samples of silence on load (AIDA-X's pre-buffer); per
// sample: x *= in_gain; y = model(x) (+ x when in_skip); y *= out_gain. A file of 2 or 3 inputs
// (in_shape) gets {x, PARAM1[, PARAM2]} per sample, as AIDA-X's applyModel builds it; the warm-up
// runs with the knobs at their values, as AIDA-X holds its parameters on load.
#pragma once

#include "processor.h"

#include <RTNeural/RTNeural.h>

#include <cmath>
#include <utility>

namespace nfx
{
namespace aidax
{

    // Keep in step with AIDAX_HIDDEN_SIZES in src/neuralfx/export/aidax.py.
    using AidaxSizes = std::integer_sequence<int, 8, 12, 16, 20, 24, 32, 40, 64, 80>;
    constexpr int kWarmupSamples = 2048;

    /** AIDA-X's DB_CO: dB to a gain factor, silence at -90 dB and below. */
    inline float dbToGain(float db) { return db > -90.0f ? std::pow(10.0f, db * 0.05f) : 0.0f; }

    template <typename Rnn, int H, int In>
    class AidaxProcessor final : public Processor
    {
    public:
        AidaxProcessor(const json& j, const ModelInfo& info)
            : skip(info.in_skip)
            , in_gain(dbToGain(info.in_gain_db))
            , out_gain(dbToGain(info.out_gain_db))
        {
            model.parseJson(j, false);
        }

        void reset() override
        {
            model.reset();
            const float silence[64] = {};
            float discard[64];
            for(int n = 0; n < kWarmupSamples; n += 64)
                process(silence, discard, 64);
        }

        void process(const float* in, float* out, size_t n) override
        {
            for(int k = 1; k < In; ++k)
                frame[k] = k - 1 < (int)knobs.size() ? knobs[k - 1] : 0.0f;
            for(size_t i = 0; i < n; ++i)
            {
                const float x = in[i] * in_gain;
                frame[0] = x;
                const float y = model.forward(frame) + (skip ? x : 0.0f);
                out[i] = y * out_gain;
            }
        }

    private:
        const bool skip;
        const float in_gain, out_gain;
        // Never copied or moved after construction (see lab_models.cpp).
        RTNeural::ModelT<float, In, 1, Rnn, RTNeural::DenseT<float, H, 1>> model;
        alignas(RTNEURAL_DEFAULT_ALIGNMENT) float frame[In] = {};
    };

    template <int H, int In>
    std::unique_ptr<Processor> makeSized(const json& j, const ModelInfo& info)
    {
        if(info.cell == "gru")
            return std::make_unique<AidaxProcessor<RTNeural::GRULayerT<float, In, H>, H, In>>(j, info);
        return std::make_unique<AidaxProcessor<RTNeural::LSTMLayerT<float, In, H>, H, In>>(j, info);
    }

    /** The processor for a file of ``In`` inputs and any AIDA-X hidden size; null otherwise. */
    template <int In, int... Hs>
    std::unique_ptr<Processor> dispatch(const json& j, const ModelInfo& info, std::integer_sequence<int, Hs...>)
    {
        std::unique_ptr<Processor> p;
        ((info.hidden == Hs ? (void)(p = makeSized<Hs, In>(j, info)) : (void)0), ...);
        return p;
    }

    std::unique_ptr<Processor> makeIn1(const json& j, const ModelInfo& info);
    std::unique_ptr<Processor> makeIn2(const json& j, const ModelInfo& info);
    std::unique_ptr<Processor> makeIn3(const json& j, const ModelInfo& info);
} // namespace aidax
} // namespace nfx
