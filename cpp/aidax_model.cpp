// AIDA-X files the way AIDA-X plays them: a compile-time RTNeural::ModelT chosen by the first
// layer's type and width (LSTM or GRU + dense 1, as in AIDA-X's model_variant.hpp), loaded with
// ModelT::parseJson, reset, then 2048 samples of silence on load (AIDA-X's pre-buffer); per
// sample: x *= in_gain; y = model(x) (+ x when in_skip); y *= out_gain.
#include "processor.h"

#include <RTNeural/RTNeural.h>

#include <cmath>
#include <utility>

namespace nfx
{
namespace
{
    // Keep in step with AIDAX_HIDDEN_SIZES in src/neuralfx/export/aidax.py.
    using AidaxSizes = std::integer_sequence<int, 8, 12, 16, 20, 24, 32, 40, 64, 80>;
    constexpr int kWarmupSamples = 2048;

    /** AIDA-X's DB_CO: dB to a gain factor, silence at -90 dB and below. */
    float dbToGain(float db) { return db > -90.0f ? std::pow(10.0f, db * 0.05f) : 0.0f; }

    template <typename Rnn, int H>
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
            for(size_t i = 0; i < n; ++i)
            {
                const float x = in[i] * in_gain;
                const float y = model.forward(&x) + (skip ? x : 0.0f);
                out[i] = y * out_gain;
            }
        }

    private:
        const bool skip;
        const float in_gain, out_gain;
        // Never copied or moved after construction (see lab_models.cpp).
        RTNeural::ModelT<float, 1, 1, Rnn, RTNeural::DenseT<float, H, 1>> model;
    };

    template <int H>
    std::unique_ptr<Processor> make(const json& j, const ModelInfo& info)
    {
        if(info.cell == "gru")
            return std::make_unique<AidaxProcessor<RTNeural::GRULayerT<float, 1, H>, H>>(j, info);
        return std::make_unique<AidaxProcessor<RTNeural::LSTMLayerT<float, 1, H>, H>>(j, info);
    }

    template <int... Hs>
    std::unique_ptr<Processor> dispatch(const json& j, const ModelInfo& info, std::integer_sequence<int, Hs...>)
    {
        std::unique_ptr<Processor> p;
        ((info.hidden == Hs ? (void)(p = make<Hs>(j, info)) : (void)0), ...);
        return p;
    }
} // namespace

std::unique_ptr<Processor> makeAidaxProcessor(const json& j, const ModelInfo& info, const std::string& where)
{
    auto p = dispatch(j, info, AidaxSizes {});
    if(!p)
        throw UserError(where + ": hidden size " + std::to_string(info.hidden)
                        + " is not one AIDA-X runs (8, 12, 16, 20, 24, 32, 40, 64, 80)");
    return p;
}

} // namespace nfx
