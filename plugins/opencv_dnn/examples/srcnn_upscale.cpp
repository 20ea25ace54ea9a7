// Upscale an image with the srcnn model files from C++, two ways:
//
//   srcnn_upscale superres srcnn_x3.pb   3 small.png big.png   # cv::dnn_superres, OpenCV 4.x / 5.0
//   srcnn_upscale superres srcnn_x3_superres.onnx 3 small.png big.png  # cv::dnn_superres, OpenCV 5.1+
//   srcnn_upscale dnn      srcnn_x3.onnx 3 small.png big.png   # cv::dnn on the ONNX file
//
// "superres" is what OpenCV's dnn_superres does with any of its models: full-range YCrCb, Y
// through the network, Cr/Cb enlarged bilinearly. "dnn" is the srcnn-cli recipe (what
// srcnn.opencv.upsample_bgr does in Python): MATLAB's BT.601 studio-range YCbCr, Y through
// the ONNX network (MATLAB bicubic is inside it), Cb/Cr by MATLAB's bicubic, rounded half up.
// Input: an 8-bit grey or colour image (alpha is dropped); output: the same, S times larger.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn_superres.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

// MATLAB imresize(x, s, 'bicubic') along one axis for an integer s >= 1: Keys cubic
// (a = -0.5) at u = x / s + 0.5 (1 - 1/s) (1-based), taps from floor(u - 2), weights
// normalised to sum 1, symmetric (half-sample) borders.
double keys(double t) {
  t = std::fabs(t);
  if (t <= 1) return (1.5 * t - 2.5) * t * t + 1;
  if (t < 2) return ((-0.5 * t + 2.5) * t - 4) * t + 2;
  return 0;
}

int mirror(int i, int n) {  // 0-based symmetric index into 0..n-1
  const int m = 2 * n;
  i %= m;
  if (i < 0) i += m;
  return i < n ? i : m - 1 - i;
}

// rows x cols CV_64F -> (s * rows) x cols
cv::Mat bicubic_rows(const cv::Mat& x, int s) {
  const int n = x.rows;
  cv::Mat out(s * n, x.cols, CV_64F);
  for (int o = 0; o < s * n; ++o) {
    const double u = (o + 1.0) / s + 0.5 * (1.0 - 1.0 / s);
    const int left = static_cast<int>(std::floor(u - 2.0));
    double w[6], sum = 0;
    for (int k = 0; k < 6; ++k) sum += (w[k] = keys(u - (left + k)));
    double* dst = out.ptr<double>(o);
    for (int c = 0; c < x.cols; ++c) dst[c] = 0;
    for (int k = 0; k < 6; ++k) {
      if (w[k] == 0) continue;
      const double* src = x.ptr<double>(mirror(left + k - 1, n));
      for (int c = 0; c < x.cols; ++c) dst[c] += w[k] / sum * src[c];
    }
  }
  return out;
}

cv::Mat matlab_bicubic(const cv::Mat& x, int s) {
  cv::Mat t = bicubic_rows(x, s).t();
  return bicubic_rows(t, s).t();
}

// MATLAB rgb2ycbcr for RGB in [0, 1]: rows Y, Cb, Cr in 0..255 units.
const cv::Matx33d T(65.481, 128.553, 24.966, -37.797, -74.203, 112.0, 112.0, -93.786, -18.214);
const cv::Vec3d OFFSET(16.0, 128.0, 128.0);

unsigned char to_u8(double v) {  // v in [0, 1]: round half up and saturate, as srcnn does
  const double r = std::floor(v * 255.0 + 0.5);
  return static_cast<unsigned char>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

// studio-range Y (h x w CV_32F) -> S-times larger Y from the ONNX network
cv::Mat run_y(cv::dnn::Net& net, const cv::Mat& y) {
  const int shape[] = {1, 1, y.rows, y.cols};
  cv::Mat blob(4, shape, CV_32F);
  y.copyTo(cv::Mat(y.rows, y.cols, CV_32F, blob.ptr<float>()));
  net.setInput(blob);
  cv::Mat out = net.forward();
  CV_Assert(out.dims == 4 && out.size[0] == 1 && out.size[1] == 1);
  return cv::Mat(out.size[2], out.size[3], CV_32F, out.ptr<float>()).clone();
}

cv::Mat upscale_dnn(const std::string& model, int s, const cv::Mat& img) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(model);
  if (img.channels() == 1) {  // grey is taken as Y, as srcnn-cli does
    cv::Mat y;
    img.convertTo(y, CV_32F, 1.0 / 255.0);
    cv::Mat big = run_y(net, y), out(big.size(), CV_8U);
    for (int r = 0; r < big.rows; ++r)
      for (int c = 0; c < big.cols; ++c) out.at<unsigned char>(r, c) = to_u8(big.at<float>(r, c));
    return out;
  }
  cv::Mat y(img.size(), CV_32F), cb(img.size(), CV_64F), cr(img.size(), CV_64F);
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols; ++c) {
      const cv::Vec3b p = img.at<cv::Vec3b>(r, c);  // BGR
      const cv::Vec3d ycc = (T * cv::Vec3d(p[2] / 255.0, p[1] / 255.0, p[0] / 255.0) + OFFSET) / 255.0;
      y.at<float>(r, c) = static_cast<float>(ycc[0]);
      cb.at<double>(r, c) = ycc[1];
      cr.at<double>(r, c) = ycc[2];
    }
  const cv::Mat big_y = run_y(net, y), big_cb = matlab_bicubic(cb, s), big_cr = matlab_bicubic(cr, s);
  CV_Assert(big_y.size() == big_cb.size());
  const cv::Matx33d Tinv = T.inv();
  cv::Mat out(big_y.size(), CV_8UC3);
  for (int r = 0; r < out.rows; ++r)
    for (int c = 0; c < out.cols; ++c) {
      const cv::Vec3d ycc(big_y.at<float>(r, c), big_cb.at<double>(r, c), big_cr.at<double>(r, c));
      const cv::Vec3d rgb = Tinv * (ycc * 255.0 - OFFSET);
      out.at<cv::Vec3b>(r, c) = cv::Vec3b(to_u8(rgb[2]), to_u8(rgb[1]), to_u8(rgb[0]));
    }
  return out;
}

cv::Mat upscale_superres(const std::string& model, int s, const cv::Mat& img) {
  cv::dnn_superres::DnnSuperResImpl sr;
  sr.readModel(model);
  sr.setModel("fsrcnn", s);  // any of fsrcnn / espcn / lapsrn selects the Y-only path
  cv::Mat out;
  sr.upsample(img, out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: " << argv[0] << " superres|dnn MODEL SCALE IN OUT\n"
              << "  superres: MODEL is srcnn_xS.pb (cv::dnn_superres; OpenCV 5.1+: srcnn_xS_superres.onnx)\n"
              << "  dnn:      MODEL is srcnn_xS.onnx (cv::dnn, the srcnn-cli colour recipe)\n";
    return 2;
  }
  const std::string mode = argv[1], model = argv[2];
  const int s = std::atoi(argv[3]);
  if (s < 2 || (mode != "superres" && mode != "dnn")) {
    std::cerr << "mode must be superres or dnn and SCALE an integer >= 2\n";
    return 2;
  }
  cv::Mat img = cv::imread(argv[4], cv::IMREAD_UNCHANGED);
  if (img.empty()) {
    std::cerr << "cannot read " << argv[4] << "\n";
    return 1;
  }
  if (img.depth() != CV_8U || (img.channels() != 1 && img.channels() != 3))
    img = cv::imread(argv[4], cv::IMREAD_COLOR);  // 16-bit, BGRA, ...: 8-bit BGR
  if (img.rows < 2 || img.cols < 2) {
    std::cerr << "the image must be at least 2x2 pixels\n";
    return 1;
  }
  try {
    const cv::Mat out = mode == "dnn" ? upscale_dnn(model, s, img) : upscale_superres(model, s, img);
    if (!cv::imwrite(argv[5], out)) {
      std::cerr << "cannot write " << argv[5] << "\n";
      return 1;
    }
    std::cout << "OpenCV " << CV_VERSION << ": " << mode << " x" << s << " " << img.cols << "x" << img.rows
              << " -> " << out.cols << "x" << out.rows << "\n";
  } catch (const cv::Exception& e) {
    std::cerr << "OpenCV " << CV_VERSION << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
