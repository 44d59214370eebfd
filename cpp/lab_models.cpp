// The lab format on compile-time models: RTNeural::ModelT sizes every layer at compile time,
// which is the fastest way to run a small recurrent net, so each supported hidden size is
// one instantiation per cell type. Each one costs build time (Eigen), so the list stays short.
#include "processor.h"

#include <RTNeural/RTNeural.h>

#include <type_traits>
#include <utility>

namespace nfx
{
namespace
{
    // Keep in step with LAB_FORMAT_HIDDEN_SIZES in src/neuralfx/models/__init__.py.
    using CompiledSizes = std::integer_sequence<int, 8, 16, 32, 64>;

    template <typename Rnn, int H>
    class LabProcessor final : public Processor
    {
    public:
        explicit LabProcessor(const json& j)
        {
            // torch_helpers read the PyTorch state_dict keys directly: they transpose the
            // matrices, add the LSTM's two biases and swap the GRU's r and z blocks.
            auto& rnn = model.template get<0>();
            RTNEURAL_IF_CONSTEXPR(std::is_same<Rnn, RTNeural::GRULayerT<float, 1, H>>::value)
                RTNeural::torch_helpers::loadGRU<float>(j, "gru.", rnn);
            else
                RTNeural::torch_helpers::loadLSTM<float>(j, "lstm.", rnn);
            RTNeural::torch_helpers::loadDense<float>(j, "dense.", model.template get<1>());
        }

        void reset() override { model.reset(); }

        void process(const float* in, float* out, size_t n) override
        {
            for(size_t i = 0; i < n; ++i)
                out[i] = model.forward(in + i);
        }

    private:
        // ModelT points an Eigen::Map at its own output array in its constructor, so it must
        // never be copied or moved: it lives inside this heap-allocated object for good.
        RTNeural::ModelT<float, 1, 1, Rnn, RTNeural::DenseT<float, H, 1>> model;
    };

    template <int H>
    std::unique_ptr<Processor> make(const json& j, bool gru)
    {
        if(gru)
            return std::make_unique<LabProcessor<RTNeural::GRULayerT<float, 1, H>, H>>(j);
        return std::make_unique<LabProcessor<RTNeural::LSTMLayerT<float, 1, H>, H>>(j);
    }

    template <int... Hs>
    std::unique_ptr<Processor> dispatch(const json& j, bool gru, int hidden, std::integer_sequence<int, Hs...>)
    {
        std::unique_ptr<Processor> p;
        ((hidden == Hs ? (void)(p = make<Hs>(j, gru)) : (void)0), ...);
        return p;
    }

    template <int... Hs>
    std::string sizesText(std::integer_sequence<int, Hs...>)
    {
        std::string s;
        ((s += (s.empty() ? "" : ", ") + std::to_string(Hs)), ...);
        return s;
    }
} // namespace

std::unique_ptr<Processor> makeLabProcessor(const json& j, const ModelInfo& info, const std::string& where)
{
    auto p = dispatch(j, info.cell == "gru", info.hidden, CompiledSizes {});
    if(!p)
        throw UserError(where + ": hidden size " + std::to_string(info.hidden) + " (from " + info.cell
                        + ".weight_hh_l0) is not compiled in for the lab format; compiled sizes: " + sizesText(CompiledSizes {})
                        + ". Export with --format native, which runs any size");
    return p;
}

} // namespace nfx
