// RTNeural's native format on its dynamic model: any layer sizes, chosen when the file loads.
#include "processor.h"

#include <RTNeural/RTNeural.h>

namespace nfx
{
namespace
{
    class NativeProcessor final : public Processor
    {
    public:
        explicit NativeProcessor(std::unique_ptr<RTNeural::Model<float>> m)
            : model(std::move(m))
        {
        }

        void reset() override { model->reset(); }

        void process(const float* in, float* out, size_t n) override
        {
            for(size_t i = 0; i < n; ++i)
            {
                // Conv1D maps its input with Eigen's aligned Map; a pointer into the middle of
                // a float array is not 16-byte aligned, so each sample goes through this buffer.
                frame[0] = in[i];
                for(size_t k = 0; k < knobs.size(); ++k)
                    frame[1 + k] = knobs[k];
                out[i] = model->forward(frame);
            }
        }

    private:
        std::unique_ptr<RTNeural::Model<float>> model;
        alignas(RTNEURAL_DEFAULT_ALIGNMENT) float frame[8] = {};
    };
} // namespace

std::unique_ptr<Processor> makeNativeProcessor(const json& j, const std::string& where)
{
    std::unique_ptr<RTNeural::Model<float>> model;
    try
    {
        model = RTNeural::json_parser::parseJson<float>(j);
    }
    catch(const std::exception& e)
    {
        throw UserError(where + ": RTNeural could not load the model (" + e.what() + "); export it again");
    }
    if(!model)
        throw UserError(where + ": RTNeural's parseJson returned no model; export it again");
    return std::make_unique<NativeProcessor>(std::move(model));
}

} // namespace nfx
