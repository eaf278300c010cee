package dev.perfadvisor.shop;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.web.server.ResponseStatusException;

import dev.perfadvisor.shop.Model.Category;
import dev.perfadvisor.shop.Model.Order;
import dev.perfadvisor.shop.Model.OrderLine;
import dev.perfadvisor.shop.Model.PlaceOrderRequest;
import dev.perfadvisor.shop.Model.PlacedOrder;
import dev.perfadvisor.shop.Model.Product;
import dev.perfadvisor.shop.Model.TopProduct;

@Service
public class ShopService {

    public static final String PRODUCTS_CACHE = "products";
    public static final String CATEGORIES_CACHE = "categories";
    /** Used only when {@code shop.cache.ttl.reports} is set (the fix for the planted uncached report). */
    public static final String REPORTS_CACHE = "reports";

    private final ProductRepository products;
    private final OrderRepository orders;
    private final CacheManager cacheManager;
    private final ShopProperties props;

    public ShopService(ProductRepository products, OrderRepository orders, CacheManager cacheManager,
                       ShopProperties props) {
        this.products = products;
        this.orders = orders;
        this.cacheManager = cacheManager;
        this.props = props;
    }

    @Cacheable(CATEGORIES_CACHE)
    public List<Category> categories() {
        return List.copyOf(products.categories());
    }

    /** Cached in Redis; planted: the cache's TTL (shop.cache.ttl.products) is 1 s, so most reads miss. */
    @Cacheable(PRODUCTS_CACHE)
    public Product product(long id) {
        return products.findById(id)
                .orElseThrow(() -> new ResponseStatusException(HttpStatus.NOT_FOUND, "no product " + id));
    }

    /** The customer's latest orders, each with its items: one query for the orders, then one per order (N+1). */
    public List<Order> orderHistory(long customerId, int limit) {
        List<Order> result = new ArrayList<>();
        for (Order o : orders.recentOrders(customerId, limit)) {
            result.add(new Order(o.id(), o.status(), o.totalCents(), o.createdAt(), orders.itemsOf(o.id())));
        }
        return result;
    }

    /**
     * Places an order in one transaction: locks each product row (in id order, so concurrent orders cannot
     * deadlock), checks and decrements stock, inserts the order and its items.
     *
     * @throws ResponseStatusException 400 for an unknown customer or product, 409 when stock is short
     */
    @Transactional
    public PlacedOrder placeOrder(PlaceOrderRequest request) {
        long customerId = request.customerId();
        if (!orders.customerExists(customerId)) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "no customer " + customerId);
        }
        Map<Long, Integer> quantities = new TreeMap<>(Comparator.naturalOrder());
        for (OrderLine line : request.items()) {
            quantities.merge(line.productId(), line.quantity(), Integer::sum);
        }
        Map<Long, Integer> prices = new TreeMap<>();
        long total = 0;
        for (Map.Entry<Long, Integer> e : quantities.entrySet()) {
            var row = orders.lockStock(e.getKey()).orElseThrow(
                    () -> new ResponseStatusException(HttpStatus.BAD_REQUEST, "no product " + e.getKey()));
            if (row.stock() < e.getValue()) {
                throw new ResponseStatusException(HttpStatus.CONFLICT, "not enough stock for product " + e.getKey());
            }
            orders.decrementStock(e.getKey(), e.getValue());
            prices.put(e.getKey(), row.priceCents());
            total += (long) row.priceCents() * e.getValue();
        }
        long orderId = orders.insertOrder(customerId, total);
        for (Map.Entry<Long, Integer> e : quantities.entrySet()) {
            orders.insertItem(orderId, e.getKey(), e.getValue(), prices.get(e.getKey()));
        }
        return new PlacedOrder(orderId, customerId, total, "placed");
    }

    /**
     * Best sellers of the last {@code days} days. Planted: an aggregate over order_items on every call, uncached
     * unless {@code shop.cache.ttl.reports} gives the report cache a time-to-live (SHOP_CACHE_TTL_REPORTS=5m).
     */
    public List<TopProduct> topProducts(int days, int limit) {
        Cache cache = props.cache().ttl().containsKey(REPORTS_CACHE) ? cacheManager.getCache(REPORTS_CACHE) : null;
        if (cache == null) {
            return products.topProducts(OffsetDateTime.now().minusDays(days), limit);
        }
        return cache.get(days + ":" + limit,
                () -> List.copyOf(products.topProducts(OffsetDateTime.now().minusDays(days), limit)));
    }
}
